"""index.bibfiles: BibTeX and RIS exports of Zotero, Better BibTeX, JabRef and Mendeley."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.bibfiles import read_bibfile
from index.models import LibraryRead

DATA = Path(__file__).parent / "data" / "bib"


def _export(tmp_path: Path, name: str, attachments: tuple[str, ...] = ()) -> Path:
    """The fixture export in tmp_path (its @TMP@ paths pointing there), with the given
    attachment files created relative to it."""
    text = (DATA / name).read_text(encoding="utf-8").replace("@TMP@", str(tmp_path))
    out = tmp_path / name
    out.write_text(text, encoding="utf-8")
    for rel in attachments:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"%PDF-1.4\n")
    return out


def _by_key(read: LibraryRead) -> dict:
    return {e.key: e for e in read.entries}


def test_zotero_bibtex_fields_become_the_record_with_bibtex_as_source(tmp_path: Path) -> None:
    pdf = "files/12/Datta et al. - 2010 - Complications related to deep venous thrombosis.pdf"
    read = read_bibfile(_export(tmp_path, "zotero.bib", (pdf,)))
    meta = _by_key(read)["datta_complications_2010"].metadata
    assert meta.title is not None and meta.title.startswith("Complications related to deep")
    assert [c.family for c in meta.creators] == ["Datta", "Ball", "Rudmik", "Hameed", "Kortbeek"]
    assert meta.creators[3].given == "S. Morad"
    assert (meta.year, meta.venue, meta.volume, meta.issue, meta.pages) == (
        2010,
        "Journal of Trauma Management & Outcomes",
        "4",
        "1",
        "1-11",
    )
    assert (meta.doi, meta.item_type) == ("10.1186/1752-2897-4-1", "article-journal")
    assert set(meta.sources.values()) == {"bibtex"}


def test_zotero_file_field_resolves_relative_to_the_export(tmp_path: Path) -> None:
    pdf = "files/12/Datta et al. - 2010 - Complications related to deep venous thrombosis.pdf"
    html = "files/13/1752-2897-4-1.html"
    read = read_bibfile(_export(tmp_path, "zotero.bib", (pdf, html)))
    assert _by_key(read)["datta_complications_2010"].files == [
        str(tmp_path / pdf),
        str(tmp_path / html),
    ]


def test_latex_accents_and_braces_become_unicode(tmp_path: Path) -> None:
    meta = _by_key(read_bibfile(_export(tmp_path, "zotero.bib")))["muller_grunewald_2015"]
    assert meta.metadata.title == "Grünewald's Model of Étude in Zürich"
    assert meta.metadata.venue == "Revue d'Études"
    creators = meta.metadata.creators
    assert [(c.family, c.given) for c in creators[:2]] == [
        ("Müller", "Jörg"),
        ("García Márquez", "Gabriel"),
    ]
    assert creators[2].name == "World Health Organization"


def test_entry_without_a_file_is_kept_as_a_metadata_record(tmp_path: Path) -> None:
    read = read_bibfile(_export(tmp_path, "zotero.bib"))
    entry = _by_key(read)["muller_grunewald_2015"]
    assert entry.files == [] and entry.metadata.year == 2015
    assert not [p for p in read.problems if p.item == "muller_grunewald_2015"]


def test_missing_attachment_is_one_problem_line_naming_file_and_key(tmp_path: Path) -> None:
    export = _export(tmp_path, "zotero.bib")
    read = read_bibfile(export)
    lines = [p.line for p in read.problems if p.item == "cohan_specter_2020"]
    assert lines == [
        f"{export}: cohan_specter_2020: attached file not found: "
        "files/14/Cohan et al. - 2020 - SPECTER.pdf"
    ]
    assert _by_key(read)["cohan_specter_2020"].metadata.item_type == "paper-conference"


def test_better_bibtex_absolute_paths_dates_and_eprints(tmp_path: Path) -> None:
    pdf = "Zotero/storage/ABCD2345/Marder - 2012 - A good life.pdf"
    read = read_bibfile(_export(tmp_path, "betterbibtex.bib", (pdf,)))
    marder, webb = _by_key(read)["marderGoodLife2012"], _by_key(read)["webbVESPA2016"]
    assert marder.files == [str(tmp_path / pdf)]
    assert (marder.metadata.year, marder.metadata.venue, marder.metadata.pmid) == (
        2012,
        "eLife",
        "23256047",
    )
    assert (
        webb.metadata.title
        == "VESPA: Very Large-Scale Evolutionary and Selective Pressure Analyses"
    )
    assert (webb.metadata.arxiv, webb.metadata.item_type) == ("1603.01234", "webpage")
    assert [p.item for p in read.problems] == ["webbVESPA2016"]  # its PDF is not there


def test_jabref_several_files_separated_by_semicolons(tmp_path: Path) -> None:
    files = ("papers/Tully2010.pdf", "papers/Tully2010-supplement.pdf")
    read = read_bibfile(_export(tmp_path, "jabref.bib", files))
    assert _by_key(read)["Tully2010"].files == [str(tmp_path / f) for f in files]
    assert _by_key(read)["Tully2010"].metadata.creators[0].family == "Tully"


def test_bad_entries_are_one_line_each_and_the_rest_goes_through(tmp_path: Path) -> None:
    export = _export(tmp_path, "jabref.bib")
    read = read_bibfile(export)
    assert {"Tully2010", "Webb2017"} <= set(_by_key(read))
    lines = [p.line for p in read.problems]
    assert any(ln.startswith(f"{export}: line 14 (Broken2011): ") for ln in lines), lines
    assert any("Webb2017" in ln and "Duplicate" in ln for ln in lines), lines
    assert all("\n" not in ln for ln in lines)


def test_mendeley_escaped_windows_path_is_reported_and_unix_path_found(tmp_path: Path) -> None:
    pdf = "Mendeley Desktop/Lintz, Felsen - 2016 - Basal ganglia output.pdf"
    export = _export(tmp_path, "mendeley.bib", (pdf,))
    read = read_bibfile(export)
    assert _by_key(read)["Lintz2016"].files == [str(tmp_path / pdf)]
    assert _by_key(read)["Lintz2016"].metadata.pmid == "27377457"
    assert [p.line for p in read.problems] == [
        f"{export}: Douglas2014: attached file not found: C:/Users/researcher/Documents/"
        "Mendeley Desktop/Douglas et al. - 2014 - Fragment-based design.pdf"
    ]
    douglas = _by_key(read)["Douglas2014"].metadata
    assert douglas.title is not None and douglas.title.startswith("Fragment-based design")
    assert (douglas.creators[5].family, douglas.creators[5].given) == ("Acharya", "K Ravi")


def test_ris_records_with_several_l1_files_and_file_urls(tmp_path: Path) -> None:
    files = ("files/12/Datta et al. - 2010 - Complications.pdf", "files/13/supplement.pdf")
    linked = "Mendeley Desktop/Lintz - 2016.pdf"
    read = read_bibfile(_export(tmp_path, "zotero.ris", (*files, linked)))
    datta, lintz = read.entries[0], read.entries[2]
    assert datta.files == [str(tmp_path / f) for f in files]
    assert [c.family for c in datta.metadata.creators] == ["Datta", "Ball", "Rudmik"]
    assert (datta.metadata.venue, datta.metadata.pages, datta.metadata.year) == (
        "Journal of Trauma Management & Outcomes",
        "1-11",
        2010,
    )
    assert set(datta.metadata.sources.values()) == {"ris"}
    assert lintz.files == [str(tmp_path / linked)]
    assert lintz.metadata.doi == "10.7554/eLife.13833"


def test_ris_record_without_type_line_is_reported_and_others_read(tmp_path: Path) -> None:
    export = _export(tmp_path, "zotero.ris")
    read = read_bibfile(export)
    assert len(read.entries) == 3
    assert read.entries[1].metadata.title == "Étude des systèmes: un livre sans fichier"
    assert read.entries[1].metadata.item_type == "book"
    assert [p.line for p in read.problems if "RIS record" in p.message] == [
        f"{export}: line 20: not a RIS record (no 'TY  - ' or 'ER  - ' line)"
    ]


@pytest.mark.parametrize("name", ["missing.bib", "missing.ris"])
def test_unreadable_export_is_one_problem_not_an_exception(tmp_path: Path, name: str) -> None:
    read = read_bibfile(tmp_path / name)
    assert read.entries == []
    assert len(read.problems) == 1 and str(tmp_path / name) in read.problems[0].line
