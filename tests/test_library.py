"""A researcher's library into the index: Zotero and BibTeX imports with their records,
collections as scopes, re-syncs, a user's corrections, duplicates across sources, and
citations that read and export as a researcher writes them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import bibtexparser
import pytest
import rispy
from zotero_library import PDFS, NinePdfLibrary, nine_pdf_library

from rag import Engine, Settings

WORKS = {w["file"]: w for w in json.loads((PDFS / "bibliography.json").read_text())["works"]}
IVC_QUESTION = "What complications do inferior vena cava filters cause?"


@pytest.fixture
def library(tmp_path: Path) -> NinePdfLibrary:
    return nine_pdf_library(tmp_path / "Zotero", linked_dir=tmp_path / "Papers")


@pytest.fixture
def imported(library: NinePdfLibrary, engine: Engine) -> tuple[NinePdfLibrary, Engine]:
    out = engine.ingest_library("zotero", library.data_dir)
    assert out.report.ok, out.report
    return library, engine


def _info(engine: Engine, doc_id: str):  # type: ignore[no-untyped-def]
    return next(d for d in engine.documents() if d.doc_id == doc_id)


def test_zotero_items_are_indexed_with_their_records_and_collections(
    imported: tuple[NinePdfLibrary, Engine],
) -> None:
    _, engine = imported
    for name, work in WORKS.items():
        info = _info(engine, name)
        meta = info.metadata
        assert meta is not None and info.title == work["title"]
        assert [f"{c.family} {c.given}" for c in meta.creators] == work["authors"]
        assert (meta.year, meta.venue, meta.doi) == (work["year"], work["venue"], work["doi"])
        assert {meta.sources[f] for f in ("title", "creators", "year")} == {"zotero"}
    assert _info(engine, "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf").collections == [
        "Thesis/Chapter 2: Méthodes"
    ]


def test_import_lists_missing_files_and_items_without_files_one_line_each(
    library: NinePdfLibrary, engine: Engine
) -> None:
    out = engine.ingest_library("zotero", library.data_dir)
    assert (len(out.added), out.without_files) == (9, 2)
    missing = [p for p in out.problems if library.keys["missing"] in p]
    assert len(missing) == 1 and "Müller - 2019.pdf" in missing[0] and "\n" not in missing[0]
    assert any(library.keys["note-only"] in p and "no PDF or HTML" in p for p in out.problems)


def test_a_collection_scopes_the_question(imported: tuple[NinePdfLibrary, Engine]) -> None:
    _, engine = imported
    thesis = engine.filed_in(["Thesis"])  # and the chapter inside it
    assert sorted(thesis) == [
        "bmc-hsr-2014-quality-improvement-malawi.pdf",
        "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf",
        "hindawi-rrp-2010-heart-failure-programmes.pdf",
    ]
    answer = engine.ask("What loss does SPECTER use?", doc_ids=thesis)
    assert {p.doc_id for p in answer.passages} <= set(thesis)


def test_second_import_with_nothing_changed_indexes_nothing_and_a_deleted_item_leaves(
    imported: tuple[NinePdfLibrary, Engine],
) -> None:
    library, engine = imported
    again = engine.ingest_library("zotero", library.data_dir)
    assert (again.added, again.changed, again.unchanged, again.report.files) == ([], [], 9, [])
    conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    conn.execute(
        "INSERT INTO deletedItems (itemID) SELECT itemID FROM items WHERE key = ?",
        (library.keys["peerjcs-2017-vespa.pdf"],),
    )
    conn.commit()
    conn.close()
    after = engine.ingest_library("zotero", library.data_dir)
    assert after.removed == ["peerjcs-2017-vespa.pdf"]
    assert "peerjcs-2017-vespa.pdf" not in {d.doc_id for d in engine.documents()}


def test_a_changed_record_updates_the_fields_and_a_users_correction_outlives_it(
    imported: tuple[NinePdfLibrary, Engine],
) -> None:
    library, engine = imported
    doc = "hindawi-rrp-2010-heart-failure-programmes.pdf"
    engine.set_metadata(doc, year=2011)
    conn = sqlite3.connect(library.data_dir / "zotero.sqlite")
    key = library.keys[doc]
    # Zotero's own edit of the venue: a new value, and the item's dateModified moves.
    conn.execute("INSERT INTO itemDataValues (value) VALUES ('Rehabil Res Pract')")
    conn.execute(
        "UPDATE itemData SET valueID = (SELECT valueID FROM itemDataValues WHERE value = "
        "'Rehabil Res Pract') WHERE itemID = (SELECT itemID FROM items WHERE key = ?) AND "
        "fieldID = (SELECT fieldID FROM fields WHERE fieldName = 'publicationTitle')",
        (key,),
    )
    conn.execute("UPDATE items SET dateModified = '2025-03-03 08:00:00' WHERE key = ?", (key,))
    conn.commit()
    conn.close()
    again = engine.ingest_library("zotero", library.data_dir)
    assert again.changed == [key] and again.report.files[0].status == "unchanged"
    meta = _info(engine, doc).metadata
    assert meta is not None
    assert (meta.venue, meta.sources["venue"]) == ("Rehabil Res Pract", "zotero")
    assert (meta.year, meta.sources["year"]) == (2011, "user")


def test_citations_read_like_a_researchers_and_export_to_parseable_bibtex_and_ris(
    imported: tuple[NinePdfLibrary, Engine], tmp_path: Path
) -> None:
    _, engine = imported
    answer = engine.ask(IVC_QUESTION)
    datta = [c for c in answer.citations if c.doc_id.startswith("bmc-jtmo")]
    assert datta, [c.doc_id for c in answer.citations]
    assert datta[0].reference is not None
    assert datta[0].reference.startswith("Datta et al. (2010), Journal of Trauma Management")
    assert datta[0].doi == "10.1186/1752-2897-4-1"
    bib = bibtexparser.parse_string(engine.cited_works(answer, "bibtex"))
    entry = next(e for e in bib.entries if e.fields_dict["doi"].value == datta[0].doi)
    assert entry.fields_dict["year"].value == "2010"
    assert "Cited pages:" in entry.fields_dict["note"].value
    ris = rispy.loads(engine.cited_works(answer, "ris"))
    assert any(r.get("doi") == datta[0].doi for r in ris)


def test_same_paper_from_zotero_and_a_loose_partial_copy_is_kept_once(
    imported: tuple[NinePdfLibrary, Engine], tmp_path: Path
) -> None:
    from pypdf import PdfReader, PdfWriter

    _, engine = imported
    # The first two pages only: too little shared text for the text check, the same DOI.
    loose = tmp_path / "datta-excerpt.pdf"
    writer = PdfWriter(clone_from=PdfReader(PDFS / "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf"))
    for _ in range(len(writer.pages) - 1):
        writer.remove_page(len(writer.pages) - 1)
    writer.write(loose)
    (result,) = engine.ingest([loose]).files
    assert result.duplicate_of == "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf"
    assert any("same work" in w.message and "DOI" in w.message for w in result.warnings)


def test_a_bib_entry_without_a_file_gives_its_fields_to_a_loose_pdf(
    engine: Engine, tmp_path: Path
) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@inproceedings{cohan2020specter,\n"
        "  title = {{SPECTER}: Document-level Representation Learning using "
        "Citation-informed Transformers},\n"
        "  author = {Cohan, Arman and Feldman, Sergey and Beltagy, Iz and Downey, Doug "
        "and Weld, Daniel S.},\n"
        "  booktitle = {Proceedings of ACL 2020},\n  year = {2020},\n  pages = {2270--2282},\n"
        "  doi = {10.18653/v1/2020.acl-main.207}\n}\n",
        encoding="utf-8",
    )
    out = engine.ingest_library("bibtex", bib)
    assert out.without_files == 1 and not out.report.files
    loose = tmp_path / "specter.pdf"
    shutil.copyfile(PDFS / "acl-2020-specter.pdf", loose)
    engine.ingest([loose])
    meta = _info(engine, "specter.pdf").metadata
    if meta is None or meta.sources.get("creators") != "bibtex":
        pytest.fail(f"the entry was not matched: {meta}")
    assert meta.creators[0].given == "Arman" and meta.venue == "Proceedings of ACL 2020"


def test_a_correction_is_kept_without_reindexing_and_bad_fields_are_one_line(
    engine: Engine,
) -> None:
    from index.errors import PaperTrailError

    engine.ingest([PDFS / "elife-2012-e00353-a-good-life.pdf"])
    doc = "elife-2012-e00353-a-good-life.pdf"
    before = _info(engine, doc).ingested_at
    info = engine.set_metadata(doc, title="A good life (Living Science)")
    assert info.title == "A good life (Living Science)" and info.ingested_at == before
    assert info.metadata is not None and info.metadata.sources["title"] == "user"
    with pytest.raises(PaperTrailError, match=r"elife-2012-e00353-a-good-life\.pdf") as bad:
        engine.set_metadata(doc, year="two thousand")
    assert "\n" not in str(bad.value)
    with pytest.raises(PaperTrailError, match="unknown metadata field"):
        engine.set_metadata(doc, colour="blue")
    engine.ingest([PDFS / "elife-2012-e00353-a-good-life.pdf"])  # unchanged: kept
    reopened = Engine.open(Settings(index_dir=engine.settings.index_dir))
    assert _info(reopened, doc).title == "A good life (Living Science)"


def test_the_chat_offers_each_answers_cited_works_and_the_table_shows_who_and_when(
    imported: tuple[NinePdfLibrary, Engine],
) -> None:
    import html
    import re

    from ui import render
    from ui.chat import ChatHandlers
    from ui.render import Exchange

    _, engine = imported
    answer = engine.ask(IVC_QUESTION)
    cited = ChatHandlers(engine).cited(answer)
    page = render.transcript_html([Exchange(answer, [], cited=cited)])
    buttons = re.findall(r'class="pt-cite-dl" data-file="([^"]+)"', page)
    assert buttons == ["cited-works-1.bib", "cited-works-1.ris", "cited-works-1.json"]
    texts = [
        html.unescape(t)
        for t in re.findall(r'<textarea class="pt-cited"[^>]*>(.*?)</textarea>', page, re.S)
    ]
    bib = bibtexparser.parse_string(texts[0])
    assert any(
        e.fields_dict.get("doi") and e.fields_dict["doi"].value == "10.1186/1752-2897-4-1"
        for e in bib.entries
    )
    assert any(r.get("doi") == "10.1186/1752-2897-4-1" for r in rispy.loads(texts[1]))
    table = render.documents_html(engine.documents())
    assert "Datta et al. (2010), Journal of Trauma Management &amp; Outcomes 4:1" in table
    assert 'href="https://doi.org/10.1186/1752-2897-4-1"' in table
    assert "in Thesis/Chapter 2: Méthodes" in table


def test_the_chat_scope_offers_collections_and_searches_only_their_documents(
    imported: tuple[NinePdfLibrary, Engine],
) -> None:
    from ui.chat import COLLECTION, ChatHandlers

    _, engine = imported
    h = ChatHandlers(engine)
    picker = h.refresh(None)[0]
    labels = [label for label, _ in picker.choices]
    assert labels[:3] == ["Collection: Reading group", "Collection: Thesis",
                          "Collection: Thesis/Chapter 2: Méthodes"]  # fmt: skip
    *_, last = h.chat_stream(
        "What loss does SPECTER use?", [], 120, 5, 0.65, [COLLECTION + "Thesis"]
    )
    transcript, _, exchanges, _, _ = last
    answer = exchanges[-1].answer
    assert answer.passages and {p.doc_id for p in answer.passages} <= set(
        engine.filed_in(["Thesis"])
    )
    assert "Searched only: Collection: Thesis" in transcript
