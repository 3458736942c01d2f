"""index.pdf.metadata: a PDF's bibliographic fields from XMP, Info and its first page."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.models import DocumentMetadata
from index.pdf.metadata import pdf_metadata

PDFS = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "pdfs"
TITLE = "Measuring the Patience of Reviewers in Applied Statistics"


def _article(
    path: Path,
    *,
    info_title: str | None = None,
    info_author: str | None = None,
    info_subject: str | None = None,
    lines: tuple[str, ...] = (
        "Journal of Testing 2019, 7:42",
        "doi: 10.1234/jot.2019.042",
        "© 2019 The Authors. Distributed under the Creative Commons Attribution Licence",
        "(http://creativecommons.org/",
        "licenses/by/4.0).",
    ),
) -> Path:
    """A one-page article: a running head, the title in large type, a byline, a body."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    if info_title is not None:
        pdf.setTitle(info_title)
    if info_author is not None:
        pdf.setAuthor(info_author)
    if info_subject is not None:
        pdf.setSubject(info_subject)
    _, height = A4
    pdf.setFont("Helvetica", 10)
    y = height - 40
    for line in lines:
        pdf.drawString(50, y, line)
        y -= 12
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(50, height - 140, TITLE)
    pdf.setFont("Helvetica", 11)
    pdf.drawString(50, height - 175, "Jane Q. Doe, Ravi Kumar and Ana de la Cruz")
    pdf.setFont("Helvetica", 10)
    y = height - 230
    for i in range(25):
        pdf.drawString(50, y, f"Body sentence {i} says that the reviewers were patient and kind.")
        y -= 12
    pdf.showPage()
    pdf.save()
    return path


def test_first_page_gives_title_byline_doi_year_venue_and_licence(tmp_path: Path) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf"))
    assert meta.title == TITLE
    assert [(c.family, c.given) for c in meta.creators] == [
        ("Doe", "Jane Q."),
        ("Kumar", "Ravi"),
        ("de la Cruz", "Ana"),
    ]
    assert (meta.doi, meta.year) == ("10.1234/jot.2019.042", 2019)
    assert (meta.venue, meta.volume, meta.pages) == ("Journal of Testing", "7", "42")
    assert meta.licence == "http://creativecommons.org/licenses/by/4.0"
    assert set(meta.sources.values()) == {"layout"}


@pytest.mark.parametrize(
    "junk",
    ["Microsoft Word - draft.doc", "6489122611071476 1..10", "C:\\jobs\\ms.pdf", "untitled", ""],
)
def test_junk_info_title_gives_way_to_the_printed_title(tmp_path: Path, junk: str) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf", info_title=junk))
    assert (meta.title, meta.sources["title"]) == (TITLE, "layout")


def test_real_info_title_outranks_the_layout(tmp_path: Path) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf", info_title="The Title the Publisher Set"))
    assert (meta.title, meta.sources["title"]) == ("The Title the Publisher Set", "info")


@pytest.mark.parametrize("stub", ["Jane Q. Doe {et al.}", "Administrator"])
def test_stub_info_author_gives_way_to_the_byline(tmp_path: Path, stub: str) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf", info_author=stub))
    assert len(meta.creators) == 3
    assert meta.sources["creators"] == "layout"


def test_info_authors_separated_by_semicolons_outrank_the_byline(tmp_path: Path) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf", info_author="Jane Doe ; Ravi Kumar"))
    assert [c.family for c in meta.creators] == ["Doe", "Kumar"]
    assert meta.sources["creators"] == "info"


def test_citation_line_in_info_subject_gives_venue_and_doi(tmp_path: Path) -> None:
    subject = "Doe et al. Annals of Proof 2018, 3:7. doi:10.5555/ap.2018.7"
    meta = pdf_metadata(_article(tmp_path / "a.pdf", info_subject=subject, lines=("Draft",)))
    assert (meta.venue, meta.volume, meta.pages, meta.year) == ("Annals of Proof", "3", "7", 2018)
    assert (meta.doi, meta.sources["venue"], meta.sources["doi"]) == (
        "10.5555/ap.2018.7",
        "info",
        "info",
    )
    assert meta.sources["creators"] == "layout"  # the byline, not "Doe" from the subject


def test_without_a_printed_year_the_creation_year_is_the_last_resort(tmp_path: Path) -> None:
    meta = pdf_metadata(_article(tmp_path / "a.pdf", lines=("Preprint under review",)))
    assert meta.doi is None and meta.venue is None
    assert meta.sources["year"] == "info"  # reportlab stamps the creation date


def test_record_fields_win_and_the_rest_comes_from_the_pdf(tmp_path: Path) -> None:
    record = DocumentMetadata(
        year=2021, venue="J Test", sources={"year": "zotero", "venue": "zotero"}
    )
    meta = pdf_metadata(_article(tmp_path / "a.pdf"), record=record)
    assert (meta.year, meta.venue, meta.title) == (2021, "J Test", TITLE)
    assert meta.sources == {**meta.sources, "year": "zotero", "venue": "zotero", "title": "layout"}


def test_bmc_job_number_xmp_title_is_rejected_for_the_printed_one() -> None:
    meta = pdf_metadata(PDFS / "bmc-hsr-2014-quality-improvement-malawi.pdf")
    assert meta.title is not None and meta.title.startswith("Understanding the barriers")
    assert meta.sources["title"] == "layout"
    assert (meta.venue, meta.volume, meta.year) == ("BMC Health Services Research", "14", 2014)


def test_xmp_creators_outrank_the_single_info_author() -> None:
    meta = pdf_metadata(PDFS / "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf")
    assert [c.family for c in meta.creators] == ["Datta", "Ball", "Rudmik", "Hameed", "Kortbeek"]
    assert meta.sources["creators"] == "xmp"
    assert meta.doi == "10.1186/1752-2897-4-1"
