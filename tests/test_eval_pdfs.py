"""The PDF-structure scorer (eval/bench/pdf_scoring.py) on small made-up inputs, and the command.

No test here asserts the pipeline's current quality: only that each rule counts what it
says, and that `python -m eval.bench.pdfs` runs end to end on a vendored PDF.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.bench.pdf_references import reference_sentences
from eval.bench.pdf_scoring import (
    FoundHeading,
    GoldHeading,
    bad_symbols,
    count_furniture,
    furniture_patterns,
    glued_words,
    heading_key,
    line_number_leftovers,
    locate_headings,
    match_headings,
    plain,
    splice_kinds,
    squash,
    title_score,
    word_list,
)
from eval.bench.pdfs import DATA_DIR, run

GOLD = [
    GoldHeading("Introduction", 1, 1, "1"),
    GoldHeading("Node Types", 2, 2, "2.1"),
    GoldHeading("References", 1, 3),
]


def test_heading_found_with_text_page_and_level_counts_twice():
    found = [FoundHeading("1 Introduction", 1, 1)]
    match = match_headings(GOLD, found)
    assert match.pairs == [(0, 0)] and match.level_right == 1 and match.false == 0


def test_heading_with_wrong_level_counts_for_text_only():
    match = match_headings(GOLD, [FoundHeading("2.1 Node Types", 1, 2)])
    assert len(match.pairs) == 1 and match.level_right == 0


@pytest.mark.parametrize(
    "found",
    [
        FoundHeading("2.1 Node", 2, 2),  # title cut short
        FoundHeading("Node Types", 2, 3),  # right words, another page
        FoundHeading("4 Experiments Training Data", 1, 2),  # body text glued on
    ],
)
def test_mangled_or_misplaced_heading_is_a_miss_and_a_false_heading(found):
    match = match_headings(GOLD, [found])
    assert match.pairs == [] and match.false == 1


def test_heading_key_ignores_numbering_case_spacing_and_punctuation():
    assert heading_key("3  S CI D OCS Evaluation Framework") == heading_key(
        "SCIDOCS evaluation framework"
    )
    assert heading_key("Authors’ contributions") == heading_key("AUTHORS' CONTRIBUTIONS")
    assert heading_key("A good life") != heading_key("good life")


def test_letter_numbered_appendix_heading_matches():
    gold = [GoldHeading("Appendix A - Baseline Details", 1, 12, "A")]
    match = match_headings(gold, [FoundHeading("A Appendix A - Baseline Details", 1, 12)])
    assert len(match.pairs) == 1


def test_heading_is_located_at_its_paragraph_not_at_an_earlier_word():
    page1 = "Title\n\nThe results were clear. More results.\n\n"
    text = page1 + "Results\n\nWe found it."
    located = locate_headings(text, [GoldHeading("Results", 1, 1)], [0])
    assert located == [text.index("Results\n")]


def test_heading_missing_from_its_page_is_not_located():
    text = "Page one text.\n\nPage two has Methods here."
    located = locate_headings(text, [GoldHeading("Methods", 1, 1)], [0, 15])
    assert located == [None]


def test_title_needs_equal_words_but_not_equal_typography():
    assert title_score("Basal ganglia output – reflects", "basal ganglia output - reflects.") == (
        True,
        True,
    )
    assert title_score("Title: Basal ganglia output", "Basal ganglia output") == (False, True)
    assert title_score("elife 2016 e13833", "Basal ganglia output") == (False, False)


WORDS = frozenset("prevention of dvt after trauma were identified using a".split())


def test_glued_words_are_long_letter_runs_made_of_words():
    text = "Studies on preventionofDVTaftertraumawereidentifiedusing PubMed."
    assert glued_words(text, WORDS) == ["preventionofDVTaftertraumawereidentifiedusing"]


@pytest.mark.parametrize(
    "text",
    [
        "prevention of DVT after trauma were identified using PubMed",  # spaced
        "preventionofDVTafter",  # glued, but under 25 letters
        "xqzvtrwplkjhgfdsamnbvcxzqwertyu is no word",  # long, but not made of words
    ],
)
def test_spaced_short_or_unsplittable_runs_are_not_glued(text):
    assert glued_words(text, WORDS) == []


def test_glued_word_check_uses_a_real_english_word_list():
    words = word_list()
    assert {"the", "prevention", "trauma"} <= words
    assert glued_words("Failedfilterretrievaldoesnotcarryanimmediate risk", words)


def _numbered(first: int, lines: list[str]) -> str:
    return " ".join(f"{line} {first + i}" for i, line in enumerate(lines))


PROSE = [
    "How movements are selected is a fundamental question in systems neuroscience. While many",
    "studies have elucidated the sensorimotor transformations underlying stimulus-guided",
    "movements, less is known about how internal goals, critical drivers of behavior,",
    "guide movements. The basal ganglia are known to bias movement selection according to value,",
    "one form of internal goal. Here, we examine whether other internal goals, in addition to",
    "value, also influence movements via the basal ganglia. We designed a novel task for mice",
    "that dissociated equally rewarded movements, allowing us to test how each engaged them.",
]


def test_manuscript_line_numbers_inside_prose_are_found():
    text = _numbered(24, PROSE)
    found = line_number_leftovers(text)
    assert [text[i : i + 2] for i in found] == [str(n) for n in range(24, 31)]


def test_line_number_glued_to_a_hyphen_is_found():
    text = _numbered(100, PROSE[:3]) + " rank-103 sum test " + _numbered(104, PROSE[3:])
    assert any(text[i : i + 3] == "103" for i in line_number_leftovers(text))


@pytest.mark.parametrize(
    "text",
    [
        " ".join(
            f"Figure {n} shows the effect of dose on outcome in group A." for n in range(1, 8)
        ),
        "Crystals grew for 2 h at 20 °C, appeared within 3 days, and 4 mice and 5 rats were used.",
        "Water 1 O NAC 2.7 Water 2 O NAV 3.0 Water 3 O NAT 3.1 Water 4 O NAR 3.1",
        "9002-9008 5 Natesh R 2003 6 Corradi HR 2006 7 Jaspard E 1993 8 Fuchs S 2004 9 Wei L",
    ],
)
def test_numbers_in_prose_tables_and_reference_lists_are_not_line_numbers(text):
    assert line_number_leftovers(text) == []


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("(e.g., Xiong et al., Figure 1: Part of the literature graph. 2017)", "caption"),
        ("Table 1 Patient-provider relationship during consultation Item Yes", "caption"),
        (
            "individual words ∗ Equal contribution 1 https://github.com/x or sentences",
            "front matter",
        ),
        (
            "There were times during grad school—and later as Copyright Marder.",
            "licence or copyright",
        ),
        (
            "This article is distributed under the terms of the Creative Commons licence.",
            "licence or copyright",
        ),
        ("Contact gidon.felsen@ucdenver.edu for the data.", "e-mail"),
        ("the state of the art doi:10.1042/CS20130403 and more", "doi"),
        ("Kudsk KA, Fabian TC, Baum S, Gold RE: Silent deep vein thrombosis.", "reference entry"),
        ("Bolam, J.P., Hanley, J.J., Booth, P.A., 2000. Synaptic organisation.", "reference entry"),
        ("Chest 2001, 119:132-175.", "reference entry"),
        ("Received: 4 September 2013 Accepted: 27 December 2013", "front matter"),
    ],
)
def test_non_body_material_in_a_sentence_is_a_splice(sentence, kind):
    assert kind in splice_kinds(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "As shown in Figure 2, the model improves over BERT (Devlin et al., 2019).",
        "Table 1 shows the results of the two methods on both datasets.",
        "Patients were followed for 12 months after discharge [3,4].",
        "We used the Medical Department of Kamuzu Central Hospital as the setting.",
    ],
)
def test_ordinary_body_sentences_are_not_splices(sentence):
    assert splice_kinds(sentence) == []


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Ki = 11.21 +− 0.74 nM", "split plus-minus (+−)"),
        ("p = 1.7 x 10-11", "flat exponent (x 10-11)"),
        ("at 16◦C overnight", "bullet as degree (◦C)"),
        ("resolution 2.2 ̊A here", "detached accent ( ̊A)"),
        ("the /Sigma1h term", "glyph name (/Sigma)"),
        ("NaÃŕve Bayes", "mojibake (Ã, â€)"),
        ("a \ue000 glyph and a \x0f byte", "control or private-use character"),
        ("value (cid:12) lost", "unmapped glyph (cid:N)"),
    ],
)
def test_corrupted_symbols_are_counted_by_rule(text, rule):
    assert bad_symbols(text)[rule] >= 1


def test_correct_symbols_are_not_counted():
    text = "Ki = 11.21 ± 0.74 nM at 16 °C, 2.2 Å, p = 1.7 × 10⁻¹¹ or 10^-11, Σ and α, Ångström."
    assert bad_symbols(text) == {}


def test_running_heads_are_lines_repeated_across_pages_and_match_without_spaces():
    head = "Datta et al. Journal of Trauma Management & Outcomes 2010, 4:1"
    bodies = ["Failed retrieval rates", "Conclusion", "References"]
    pages = [f"{head}\nPage {n} of 11\n{b}" for n, b in zip((9, 10, 11), bodies, strict=True)] + [
        "other"
    ]
    patterns = furniture_patterns(pages)
    body = "the filter.Dattaetal.JournalofTraumaManagement&Outcomes2010,4:1Page10of11 was"
    assert count_furniture(body, patterns) == 2
    assert (
        count_furniture("Failed retrieval rates are given on page 3 of the report", patterns) == 0
    )


def test_verbatim_and_loose_forms_fold_only_typography():
    assert plain("an “old” [ 1 ]  idea – here") == plain('an "old" [1] idea - here')
    assert plain("documentlevel") != plain("document-level")
    assert squash("document- level, (SPECTER)") == squash("Document-level SPECTER")


TEI = """<TEI xmlns="http://www.tei-c.org/ns/1.0"><text><body><div>
<p>This sentence has five words or more. Models were trained by
<ref type="bibr">(Devlin et al., 2019;</ref> with care on the data.</p>
<p>It was removed from the recommendation applications . The cita-tions were kept wrongly here.</p>
<note><p>A footnote sentence that is long enough.</p></note>
</div></body></text></TEI>"""


def test_grobid_sentences_with_its_artefacts_are_left_out(tmp_path: Path):
    (tmp_path / "paper.grobid.tei.xml").write_text(TEI)
    sentences, source = reference_sentences("paper", tmp_path, None)
    assert source == "GROBID TEI"
    assert sentences == ["This sentence has five words or more."]


def test_cermine_text_is_read_only_from_the_users_folder(tmp_path: Path):
    para = "<p>Heart failure is a silent epidemic [ 1 ] in nations.</p>"
    xml = f"<article><body><sec>{para}</sec></body></article>"
    (tmp_path / "paper.cermine-content.xml").write_text(xml)
    assert reference_sentences("paper", tmp_path / "none", None) == ([], "")
    sentences, _ = reference_sentences("paper", tmp_path / "none", tmp_path)
    assert sentences == ["Heart failure is a silent epidemic [ 1 ] in nations."]


def test_every_vendored_pdf_has_gold_for_each_of_its_pages():
    from pypdf import PdfReader

    pdfs = sorted(DATA_DIR.glob("*.pdf"))
    assert len(pdfs) == 9
    for pdf in pdfs:
        gold = json.loads((DATA_DIR / "gold" / f"{pdf.stem}.json").read_text(encoding="utf-8"))
        pages = len(PdfReader(str(pdf)).pages)
        assert gold["pages"] == pages == len(gold["page_labels"]), pdf.name
        listed = gold["figure_pages"] + gold["table_pages"] + gold["reference_pages"]
        assert all(1 <= h["page"] <= pages for h in gold["headings"]), pdf.name
        assert all(1 <= p <= pages for p in listed), pdf.name
    assert not list(DATA_DIR.rglob("*cermine*")), "CERMINE output is AGPL: never vendored"


def test_command_scores_one_vendored_pdf_as_json_and_markdown(tmp_path: Path):
    import typer

    app = typer.Typer()
    app.command()(run)
    out = tmp_path / "pdfs.md"
    result = CliRunner().invoke(
        app, ["--only", "elife-2012-e00353-a-good-life", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (only,) = report["results"]
    assert only["file"] == "elife-2012-e00353-a-good-life.pdf" and only["pages"] == 2
    assert only["reference_sentences"] > 0 and only["body_sentences"] > 0
    assert only["load_seconds"] > 0
    assert "| title right |" in out.read_text(encoding="utf-8")


def test_command_names_an_unknown_pdf():
    import typer

    app = typer.Typer()
    app.command()(run)
    result = CliRunner().invoke(app, ["--only", "no-such-paper"])
    assert result.exit_code == 1 and "no-such-paper" in result.output


def test_pdf_answers_counts_what_answers_quote(tmp_path, monkeypatch) -> None:
    """eval.bench.pdf_answers on one vendored PDF and two of its questions, in a temporary index."""
    import json as _json
    import shutil

    from eval.bench import pdf_answers

    source = pdf_answers.PDF_DIR
    data = tmp_path / "pdfs"
    data.mkdir()
    shutil.copy(source / "acl-2020-specter.pdf", data)
    lines = [
        line
        for line in (source / "questions.jsonl").read_text().splitlines()
        if _json.loads(line)["gold"]["doc_id"] == "acl-2020-specter.pdf"
    ][:2]
    (data / "questions.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(pdf_answers, "PDF_DIR", data)
    figures = pdf_answers.measure(tmp_path / "index")
    assert figures["questions"] == 2
    assert figures["quoted_sentences"] >= 1 and figures["quoted_nonbody"] == 0
    assert sum(figures["top5_passages_by_kind"].values()) >= 5
