"""rag.cite: in-text references, locators, DOI links, and BibTeX/RIS/CSL-JSON exports that
parse back (bare bibtexparser/rispy/json, and index.bibfiles) to the fields written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors, SplitNameParts

from index.bibfiles import read_bibfile
from index.models import Citation, Creator, DocumentMetadata
from rag.cite import (
    CitedWork,
    citation_keys,
    doi_url,
    export,
    locator,
    reference,
    source_line,
    to_bibtex,
    to_csl_json,
    to_ris,
    works_from_citations,
)

ROOT = Path(__file__).resolve().parents[1]
_TYPES = {"Journal": "article-journal", "Proceedings": "paper-conference"}


def _nine() -> list[DocumentMetadata]:
    """The nine CC BY papers' true data (eval/datasets/pdfs/bibliography.json)."""
    data = json.loads((ROOT / "eval/datasets/pdfs/bibliography.json").read_text("utf-8"))
    out = []
    for w in data["works"]:
        creators = [
            Creator(family=a.rsplit(" ", 1)[0], given=a.rsplit(" ", 1)[1]) for a in w["authors"]
        ]
        kind = "paper-conference" if w["venue"].startswith("Proceedings") else "article-journal"
        out.append(
            DocumentMetadata(
                item_type=kind,
                title=w["title"],
                creators=creators,
                year=w["year"],
                venue=w["venue"],
                volume=w["volume"],
                pages=w["pages"],
                doi=w["doi"],
            )
        )
    return out


NINE = _nine()
DATTA, TULLY, MALAWI, CLINSCI, VESPA, LINTZ, MARDER, SPECTER, NAACL = NINE

NON_ASCII = DocumentMetadata(
    key="dahlstrom2019",
    item_type="chapter",
    title="Méthodes d'analyse & {braces}: 50% of “quoted” A_B #1",
    creators=[
        Creator(family="Dahlström", given="Åsa"),
        Creator(family="van Zuylen", given="Madeleine"),
        Creator(family="Müller-Lüdenscheidt", given="José Ñ."),
    ],
    year=2019,
    venue="Études & Recherches",
    volume="12",
    issue="3",
    pages="45–67",
    doi="10.1000/étude_2019",
    url="https://example.org/etude",
)


def _work(meta: DocumentMetadata | None, doc: str = "d", title: str = "file", pages=None):
    return CitedWork(doc_id=doc, metadata=meta, title=title, pages=pages or ["9", "10"])


def _cit(n: int, doc: str, page: int, label: str | None = None, section: str | None = None):
    return Citation(
        n=n, doc_id=doc, title=f"title of {doc}", source=f"{doc}.pdf", page=page,
        page_label=label, section=section, passage="p", quote="q", quote_start=0,
        quote_end=1, chunk_id=f"{doc}:{page}",
    )  # fmt: skip


# --- reference, locator, doi_url -------------------------------------------------------------


def test_reference_one_author_is_family_and_year():
    assert reference(MARDER, fallback_title="x") == "Marder (2012), *eLife* 1:e00353"


def test_reference_two_authors_are_joined_with_and():
    assert reference(LINTZ, fallback_title="x").startswith("Lintz and Felsen (2016), ")


def test_reference_three_or_more_authors_are_et_al():
    assert reference(DATTA, fallback_title="x") == (
        "Datta et al. (2010), *Journal of Trauma Management & Outcomes* 4:1"
    )
    assert reference(SPECTER, fallback_title="x").startswith("Cohan et al. (2020), ")


def test_reference_gives_volume_issue_and_page_range():
    meta = CLINSCI.model_copy(update={"issue": "5"})
    assert reference(meta, fallback_title="x").endswith("*Clinical Science* 126(5):305–313")


def test_reference_without_volume_says_pages():
    assert reference(SPECTER, fallback_title="x").endswith("(ACL 2020)*, pp. 2270–2282")


def test_reference_without_year_is_nd():
    meta = MARDER.model_copy(update={"year": None})
    assert reference(meta, fallback_title="x").startswith("Marder (n.d.), ")


def test_reference_without_authors_quotes_the_title():
    meta = MARDER.model_copy(update={"creators": []})
    assert reference(meta, fallback_title="x") == "“A good life” (2012), *eLife* 1:e00353"


def test_reference_without_metadata_is_the_fallback_title():
    assert reference(None, fallback_title="Notes on DVT") == "Notes on DVT"


def test_reference_plain_has_no_markdown():
    assert reference(DATTA, fallback_title="x", markdown=False) == (
        "Datta et al. (2010), Journal of Trauma Management & Outcomes 4:1"
    )
    assert reference(None, fallback_title="my_file_v2", markdown=False) == "my_file_v2"


def test_reference_escapes_markdown_in_names_and_titles():
    assert reference(None, fallback_title="my_file_v2") == r"my\_file\_v2"


def test_locator_prefers_the_printed_page_label():
    assert locator("9", 3, "Results") == "p. 9, §Results"
    assert locator(None, 3, None) == "p. 3"


def test_source_line_is_reference_then_locator():
    line = source_line(DATTA, _cit(1, "d", 3, "9", "Results"))
    assert (
        line == "Datta et al. (2010), *Journal of Trauma Management & Outcomes* 4:1, p. 9, §Results"
    )


def test_doi_url_links_the_bare_doi():
    assert doi_url("10.1186/1752-2897-4-1") == "https://doi.org/10.1186/1752-2897-4-1"
    assert doi_url("doi:10.7554/eLife.00353") == "https://doi.org/10.7554/eLife.00353"
    assert doi_url("https://dx.doi.org/10.1/x") == "https://doi.org/10.1/x"
    assert doi_url("10.1/a#b c") == "https://doi.org/10.1/a%23b%20c"


# --- cited works and keys --------------------------------------------------------------------


def test_works_from_citations_first_cited_order_pages_merged_and_sorted():
    cits = [_cit(1, "b", 3, "10"), _cit(2, "a", 1), _cit(3, "b", 2, "9"), _cit(4, "b", 3, "10")]
    works = works_from_citations(cits, {"a": None, "b": DATTA})
    assert [(w.doc_id, w.pages, w.metadata) for w in works] == [
        ("b", ["9", "10"], DATTA),
        ("a", ["1"], None),
    ]
    assert works[1].title == "title of a"


def test_works_sort_pages_by_position_in_the_file_not_as_text():
    cits = [_cit(1, "a", 12, "xii"), _cit(2, "a", 3, "iii"), _cit(3, "a", 20, "2")]
    assert works_from_citations(cits, {})[0].pages == ["iii", "xii", "2"]


def test_keys_same_first_author_and_year_are_distinct():
    other = MARDER.model_copy(update={"title": "A good life, revisited"})
    assert citation_keys([_work(MARDER), _work(other)]) == ["marder2012good", "marder2012gooda"]


def test_keys_own_valid_key_kept_invalid_or_zotero_item_key_replaced():
    own = DATTA.model_copy(update={"key": "Datta:2010"})
    bad = DATTA.model_copy(update={"key": "Datta 2010,x"})
    zot = DATTA.model_copy(update={"key": "ABCD2345", "sources": {"title": "zotero"}})
    assert citation_keys([_work(own), _work(bad), _work(zot)]) == [
        "Datta:2010",
        "datta2010complications",
        "datta2010complicationsa",
    ]


def test_keys_are_ascii_from_non_ascii_names():
    meta = NON_ASCII.model_copy(update={"key": None})
    assert citation_keys([_work(meta)]) == ["dahlstrom2019methodes"]


def test_export_unknown_format_is_an_error():
    with pytest.raises(ValueError, match="bibtex, ris or csl-json"):
        export([], "endnote")  # type: ignore[arg-type]


# --- round trips -----------------------------------------------------------------------------

ROUND_TRIP = [*NINE, NON_ASCII]
_IDS = [re.sub(r"\W+", "-", (m.title or "")[:24]) for m in ROUND_TRIP]


def _expected(meta: DocumentMetadata) -> dict[str, object]:
    return {
        "title": meta.title,
        "authors": [(c.family, c.given) for c in meta.creators],
        "year": meta.year,
        "venue": meta.venue,
        "volume": meta.volume,
        "issue": meta.issue,
        "pages": re.sub(r"[–-]", "-", meta.pages) if meta.pages else None,
        "doi": meta.doi,
    }


def _fields(meta: DocumentMetadata) -> dict[str, object]:
    return _expected(meta)  # index.bibfiles gives DocumentMetadata: the same projection


@pytest.mark.parametrize("meta", ROUND_TRIP, ids=_IDS)
def test_bibtex_round_trips_through_bibtexparser(meta):
    library = bibtexparser.parse_string(
        to_bibtex([_work(meta)]),
        append_middleware=[SeparateCoAuthors(), SplitNameParts(), LatexDecodingMiddleware()],
    )
    assert not library.failed_blocks
    (entry,) = library.entries
    f = {k: v.value for k, v in entry.fields_dict.items()}
    got = {
        "title": f["title"],
        "authors": [(" ".join(n.von + n.last), " ".join(n.first)) for n in f["author"]],
        "year": int(f["year"]),
        "venue": f.get("journal") or f.get("booktitle"),
        "volume": f.get("volume"),
        "issue": f.get("number"),
        "pages": f["pages"].replace("–", "-") if "pages" in f else None,
        "doi": f.get("doi"),
    }
    assert got == _expected(meta)
    assert f["note"] == "Cited pages: 9, 10"


@pytest.mark.parametrize("meta", ROUND_TRIP, ids=_IDS)
def test_bibtex_round_trips_through_read_bibfile(meta, tmp_path):
    path = tmp_path / "cited.bib"
    path.write_text(to_bibtex([_work(meta)]), encoding="utf-8")
    read = read_bibfile(path)
    assert not read.problems
    (entry,) = read.entries
    assert _fields(entry.metadata) == _expected(meta)
    assert entry.metadata.item_type == meta.item_type


@pytest.mark.parametrize("meta", ROUND_TRIP, ids=_IDS)
def test_ris_round_trips_through_rispy(meta):
    (record,) = rispy.loads(to_ris([_work(meta)]))
    start, end = record.get("start_page"), record.get("end_page")
    got = {
        "title": record["title"],
        "authors": [tuple(a.split(", ", 1)) for a in record["authors"]],
        "year": int(record["year"]),
        "venue": record.get("secondary_title"),
        "volume": record.get("volume"),
        "issue": record.get("number"),
        "pages": f"{start}-{end}" if end else start,
        "doi": record.get("doi"),
    }
    assert got == _expected(meta)
    assert record["notes"] == ["Cited pages: 9, 10"]


@pytest.mark.parametrize("meta", ROUND_TRIP, ids=_IDS)
def test_ris_round_trips_through_read_bibfile(meta, tmp_path):
    path = tmp_path / "cited.ris"
    path.write_text(to_ris([_work(meta)]), encoding="utf-8")
    read = read_bibfile(path)
    assert not read.problems
    (entry,) = read.entries
    assert _fields(entry.metadata) == _expected(meta)
    assert entry.metadata.item_type == meta.item_type


@pytest.mark.parametrize("meta", ROUND_TRIP, ids=_IDS)
def test_csl_json_round_trips_through_json(meta):
    (item,) = json.loads(to_csl_json([_work(meta)]))
    got = {
        "title": item["title"],
        "authors": [(a["family"], a["given"]) for a in item["author"]],
        "year": item["issued"]["date-parts"][0][0],
        "venue": item.get("container-title"),
        "volume": item.get("volume"),
        "issue": item.get("issue"),
        "pages": item.get("page"),
        "doi": item.get("DOI"),
    }
    assert got == _expected(meta)
    assert item["type"] == meta.item_type
    assert item["note"] == "Cited pages: 9, 10"


def test_bibtex_escapes_latex_specials_and_protects_acronyms():
    text = to_bibtex([_work(NON_ASCII), _work(VESPA)])
    assert r"\& \{braces\}: 50\% of “quoted” A\_B \#1" in text
    assert "{VESPA}: Very" in text
    assert "Dahlström, Åsa and van Zuylen, Madeleine" in text
    assert "pages = {45--67}" in text


def test_all_nine_in_one_file_read_back_in_order_with_distinct_keys(tmp_path):
    works = [_work(m, doc=str(i)) for i, m in enumerate(NINE)]
    for fmt, suffix in (("bibtex", ".bib"), ("ris", ".ris")):
        path = tmp_path / f"all{suffix}"
        path.write_text(export(works, fmt), encoding="utf-8")
        read = read_bibfile(path)
        assert not read.problems, fmt
        assert [_fields(e.metadata) for e in read.entries] == [_expected(m) for m in NINE]
        assert len({e.key for e in read.entries}) == 9
    assert len(json.loads(export(works, "csl-json"))) == 9


def test_work_without_metadata_exports_its_title_and_pages(tmp_path):
    work = _work(None, title="Lab notes on DVT & prophylaxis", pages=["3"])
    bib = tmp_path / "x.bib"
    bib.write_text(to_bibtex([work]), encoding="utf-8")
    (entry,) = read_bibfile(bib).entries
    assert entry.key == "lab"
    assert entry.metadata.title == "Lab notes on DVT & prophylaxis"
    assert "@misc{lab," in bib.read_text()
    (record,) = rispy.loads(to_ris([work]))
    assert record["type_of_reference"] == "GEN"
    assert record["title"] == "Lab notes on DVT & prophylaxis"
    assert record["notes"] == ["Cited pages: 3"]
    (item,) = json.loads(to_csl_json([work]))
    assert item == {
        "id": "lab",
        "citation-key": "lab",
        "type": "document",
        "title": "Lab notes on DVT & prophylaxis",
        "note": "Cited pages: 3",
    }


def test_institution_author_stays_one_name():
    meta = MARDER.model_copy(update={"creators": [Creator(name="World Health Organization")]})
    assert reference(meta, fallback_title="x").startswith("World Health Organization (2012)")
    (item,) = json.loads(to_csl_json([_work(meta)]))
    assert item["author"] == [{"literal": "World Health Organization"}]
    assert "author = {{World Health Organization}}" in to_bibtex([_work(meta)])


def test_institution_author_round_trips_through_read_bibfile(tmp_path):
    meta = MARDER.model_copy(update={"creators": [Creator(name="World Health Organization")]})
    path = tmp_path / "who.bib"
    path.write_text(to_bibtex([_work(meta)]), encoding="utf-8")
    (entry,) = read_bibfile(path).entries
    assert entry.metadata.creators == [Creator(name="World Health Organization")]
