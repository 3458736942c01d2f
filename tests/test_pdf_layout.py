"""Real journal PDFs (vendored in eval/datasets/pdfs) read by layout: structure per PDF."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.cleaning import clean
from index.loaders import load_file
from index.models import Document
from index.settings import ChunkingSettings
from rag import Engine

PDFS = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "pdfs"


@cache
def _doc(name: str) -> Document:
    return clean(load_file(PDFS / name))


def _headings(doc: Document) -> list[tuple[str | None, str, int]]:
    return [(s.number, s.title.strip(), s.level) for s in doc.sections]


def test_numbered_headings_keep_their_number_and_nesting() -> None:
    heads = _headings(_doc("acl-2020-specter.pdf"))
    assert ("1", "Introduction", 1) in heads
    assert ("2", "Model", 1) in heads
    assert ("2.1", "Overview", 2) in heads
    assert ("3.4", "Recommendation", 2) in heads
    # Figure labels and table cells are not headings.
    assert all(len(title.split()) <= 12 for _, title, _ in heads)


def test_unnumbered_headings_found_from_type_with_levels() -> None:
    doc = _doc("bmc-hsr-2014-quality-improvement-malawi.pdf")
    heads = {title: level for _, title, level in _headings(doc)}
    assert heads.get("Background") == 1 and heads.get("Methods") == 1
    assert heads.get("Setting") == 2  # a run-in subheading set in another typeface
    methods = doc.text.index("The Medical Department of the Kamuzu Central Hospital")
    section = doc.section_at(methods)
    assert section is not None and section.title == "Setting"


def test_upper_case_headings_and_their_subheadings() -> None:
    heads = {
        title: level
        for _, title, level in _headings(_doc("clinsci-2014-ace-n-domain-inhibitors.pdf"))
    }
    assert heads.get("INTRODUCTION") == 1 and heads.get("RESULTS") == 1
    assert heads.get("Inhibition characterization") == 2


def test_footnote_waits_outside_the_sentence_it_interrupts() -> None:
    doc = _doc("acl-2020-specter.pdf")
    assert "widely used for representing individual words or sentences, extensions" in doc.text
    at = doc.text.index("Equal contribution")
    assert doc.kind_at(at) == "footnote"


def test_line_end_hyphens_join_syllables_and_keep_compounds() -> None:
    text = _doc("acl-2020-specter.pdf").text
    assert "critical ingredient for natural language processing systems" in text
    assert "state-of-the-art" in text and "co-citation" in text
    assert "ingre-dient" not in text and "stateof" not in text


def test_manuscript_line_numbers_are_removed() -> None:
    doc = _doc("elife-2016-e13833-basal-ganglia-accepted-manuscript.pdf")
    assert "While many studies have elucidated" in doc.text
    # Line numbers left inline show as runs of consecutive numbers within a paragraph.
    runs = []
    for paragraph in doc.text.split("\n\n"):
        numbers = [int(n) for n in re.findall(r"(?<![\w.,-])\d{1,4}(?![\w.,%-])", paragraph)]
        runs += [
            numbers[i]
            for i in range(len(numbers) - 2)
            if numbers[i + 2] - numbers[i] == 2 == 2 * (numbers[i + 1] - numbers[i])
        ]
    assert not runs, runs[:10]


def test_figure_pages_are_reported_and_not_indexed() -> None:
    doc = _doc("elife-2016-e13833-basal-ganglia-accepted-manuscript.pdf")
    flagged = {w.page for w in doc.warnings if "figure" in w.message}
    assert {32, 33, 34, 35, 36, 37, 38} <= flagged
    assert not any(e.page in flagged for e in doc.elements)


def test_symbols_come_out_as_unicode() -> None:
    text = _doc("clinsci-2014-ace-n-domain-inhibitors.pdf").text
    assert "16 °C" in text and "11.21 ± 0.74" in text and "1.5 Å" in text
    assert "+−" not in text and "◦" not in text
    manuscript = _doc("elife-2016-e13833-basal-ganglia-accepted-manuscript.pdf").text
    assert "1.7 x 10⁻¹¹" in manuscript and "x 10-11" not in manuscript
    for doc_text in (text, manuscript):
        assert not [c for c in doc_text if unicodedata.category(c) in ("Co", "Cc") and c != "\n"]


def test_an_accent_drawn_after_its_line_joins_its_letter() -> None:
    # Clinical Science draws the ring of "Å" after the rest of its line.
    assert (
        "solved at 2.2 Å in complex with compound 33RE (Figure 5)"
        in _doc("clinsci-2014-ace-n-domain-inhibitors.pdf").text
    )
    hindawi = _doc("hindawi-rrp-2010-heart-failure-programmes.pdf").text
    assert "U. Dahlström, and A. Broström" in hindawi
    # The late accent does not pull the next line's start onto its own ("labeled“authored”").
    assert "labeled “authored”" in _doc("naacl-2018-literature-graph.pdf").text


def test_a_run_of_superscripts_stays_on_its_line() -> None:
    elife = _doc("elife-2016-e13833-basal-ganglia-accepted-manuscript.pdf").text
    assert "2.2 x 10⁻¹⁰, paired t-test" in elife
    authors = "Indraneel Datta, Chad G Ball, Lucas Rudmik, S Morad Hameed, John B Kortbeek"
    assert authors in _doc("bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf").text


def test_a_display_equation_is_not_a_heading() -> None:
    titles = [title for _, title, _ in _headings(_doc("acl-2020-specter.pdf"))]
    assert titles and not [t for t in titles if "=" in t]


def test_residue_numbers_set_as_superscripts_stay_with_the_residue() -> None:
    text = _doc("clinsci-2014-ace-n-domain-inhibitors.pdf").text
    assert "with residues Lys489 and Tyr498, and also" in text
    assert "Tyr501 OH OAH 2.7" in text  # in a table too


def test_justified_text_keeps_its_word_spaces() -> None:
    for name in (
        "bmc-hsr-2014-quality-improvement-malawi.pdf",
        "clinsci-2014-ace-n-domain-inhibitors.pdf",
    ):
        glued = re.findall(r"\b[a-z]{25,}\b", _doc(name).text)
        assert not glued, (name, glued[:5])


@pytest.mark.parametrize(
    ("name", "title"),
    [
        (
            "bmc-hsr-2014-quality-improvement-malawi.pdf",
            "Understanding the barriers to setting up a healthcare",
        ),
        (
            "hindawi-rrp-2010-heart-failure-programmes.pdf",
            "Patient Experiences of Structured Heart Failure",
        ),
        (
            "elife-2016-e13833-basal-ganglia-accepted-manuscript.pdf",
            "Basal ganglia output reflects",
        ),
    ],
)
def test_title_comes_from_the_first_page_when_metadata_is_junk(name: str, title: str) -> None:
    assert _doc(name).title.startswith(title)


def test_printed_page_numbers_become_labels() -> None:
    labels = [p.label for p in _doc("clinsci-2014-ace-n-domain-inhibitors.pdf").pages]
    assert labels[:9] == [str(n) for n in range(305, 314)]
    specter = [p.label for p in _doc("acl-2020-specter.pdf").pages]
    assert specter[1:4] == ["2271", "2272", "2273"]


def test_a_page_number_stamped_in_a_form_labels_the_first_page() -> None:
    # ACL prints the first page's number in a footer form; the text's lines never hold it.
    specter = [p.label for p in _doc("acl-2020-specter.pdf").pages]
    assert specter[:2] == ["2270", "2271"]
    # An affiliation's superscript "1" on a first page is not its number.
    assert _doc("bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf").pages[0].label is None


def test_running_heads_are_not_left_in_the_text() -> None:
    text = _doc("clinsci-2014-ace-n-domain-inhibitors.pdf").text
    assert "R. G. Douglas and others" not in text
    assert not re.search(r"www\.clinsci\.org \d{3}", text)


def test_every_chunk_has_one_kind_and_slices_the_text() -> None:
    doc = _doc("naacl-2018-literature-graph.pdf")
    chunks = chunk_document(doc, ChunkingSettings())
    kinds = {c.kind for c in chunks}
    assert {"body", "reference", "caption"} <= kinds
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        inside = {doc.kind_at(i) for i in range(c.start, c.end, 7) if not doc.text[i].isspace()} - {
            "heading"
        }
        assert inside == {c.kind} or (c.kind == "body" and inside <= {"body"}), (c.kind, inside)


def test_answers_quote_body_text_and_skip_the_reference_list(engine: Engine) -> None:
    engine.ingest([PDFS / "acl-2020-specter.pdf"])
    answer = engine.ask("Which loss function is used to train SPECTER on citation triplets?")
    assert not answer.abstained
    assert all(p.kind != "reference" for p in answer.passages)
    assert answer.citations and all(
        p.kind == "body"
        for c in answer.citations
        for p in answer.passages
        if p.chunk_id == c.chunk_id
    )
    cited = engine.ask("Which reference is the SciBERT paper by Beltagy, Lo and Cohan?")
    assert any(p.kind == "reference" for p in cited.passages)


def test_a_quote_that_runs_over_two_columns_is_boxed_in_both() -> None:
    from index.pdf import quote_boxes

    quote = (
        "While such models are widely used for representing individual words or sentences, "
        "extensions to whole-document embeddings are relatively underexplored."
    )
    boxes = quote_boxes(PDFS / "acl-2020-specter.pdf", 1, quote)
    assert any(x1 < 0.5 for _, _, x1, _ in boxes) and any(x0 > 0.5 for x0, _, _, _ in boxes)
    assert all(0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for x0, y0, x1, y1 in boxes)
    assert quote_boxes(PDFS / "acl-2020-specter.pdf", 1, "words that are on no page at all") == []


def test_page_view_refuses_a_file_changed_since_it_was_indexed(tmp_path: Path) -> None:
    from rag.page_view import page_view

    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes((PDFS / "naacl-2018-literature-graph.pdf").read_bytes())
    doc = clean(load_file(pdf))
    view = page_view(doc, 2, None, cache_dir=tmp_path / "pages")
    assert view is not None and Path(view.image).is_file() and 0.5 < view.aspect < 1
    pdf.write_bytes((PDFS / "acl-2020-specter.pdf").read_bytes())
    assert page_view(doc, 2, None, cache_dir=tmp_path / "pages") is None
