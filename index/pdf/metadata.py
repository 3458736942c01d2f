"""A PDF alone -> its bibliographic metadata, each field with where it came from.

Three layers, most trusted first: the PDF's XMP packet, its Info dictionary (both rejected
field by field when they hold a producer's junk: job numbers, "Microsoft Word - x.doc", file
names, "et al." author stubs), and the first page as printed (the layout's title block, the
author line under it, DOI, the journal's citation line "Journal 2010, 4:1", licence line).
A reference manager's record, when there is one, goes on top (`pdf_metadata(record=...)`).
"""

from __future__ import annotations

import re
from pathlib import Path

from index.models import Creator, DocumentMetadata, MetadataSource
from index.names import creator_from_name
from index.pdf.layout import Block, LayoutPage

__all__ = ["pdf_metadata"]


def pdf_metadata(
    path: Path,
    *,
    layout: tuple[list[LayoutPage], str | None] | None = None,
    record: DocumentMetadata | None = None,
    reader: object | None = None,
) -> DocumentMetadata:
    """The file's metadata: `record` > XMP > Info > first-page layout > the creation date.

    `layout` is read_layout(path)'s result and `reader` a pypdf PdfReader of the file when
    the caller has them (the loader does: a second read would log pypdf's notes twice)."""
    from pypdf import PdfReader

    from index.pdf.reader import read_layout

    reader = reader if reader is not None else PdfReader(str(path))
    pages, title = layout if layout is not None else read_layout(path)
    first_text = _first_page_text(path)
    layers = [
        _from_xmp(reader),
        _from_info(reader),
        _from_layout(pages[0].blocks if pages else [], title, first_text),
        _from_creation_date(reader),
    ]
    merged = record or DocumentMetadata()
    for layer in layers:
        merged = merged.filled_from(layer)
    return merged


# --- the PDF's own metadata ------------------------------------------------------------------

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
_JUNK_TITLE = re.compile(
    r"^(?:microsoft\s+(?:word|powerpoint)\s*-|untitled|\(anonymous\)|anonymous$|document\d*$"
    r"|slide \d|title$|article$|doi\s*:|pii\s*:|s?\d[\d\-_.]{5,})"
    r"|\.(?:docx?|pdf|tex|dvi|indd|qxd|rtf|odt)$|[\\/]",
    re.I,
)
_JUNK_AUTHOR = re.compile(
    r"\bet\.?\s*al\b|@|^\(?(?:admin\w*|user|owner|author|unknown|anonymous)\)?$", re.I
)


def _good_title(title: str | None) -> bool:
    """A title, not a producer's default, job number ('6489122611071476 1..10') or file name."""
    title = (title or "").strip()
    words = re.findall(r"[^\W\d_]{2,}", title)
    return len(words) >= 2 and not _JUNK_TITLE.search(title) and "_" not in title.split()[0]


def _good_creators(names: list[str]) -> list[Creator]:
    """Creators, or none when the field is a stub ('Nuala E. Tully {et al.}', 'Administrator')."""
    names = [n.strip() for n in names if n and n.strip()]
    if not names or any(_JUNK_AUTHOR.search(n) for n in names):
        return []
    return [creator_from_name(n) for n in names]


def _split_authors(text: str) -> list[str]:
    sep = ";" if ";" in text else ","
    parts = [p for p in re.split(rf"\s*{sep}\s*|\s+and\s+", text) if p.strip()]
    return parts


def _layer(source: MetadataSource, **values: object) -> DocumentMetadata:
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    return DocumentMetadata(**kept, sources=dict.fromkeys(kept, source))  # type: ignore[arg-type]


def _from_xmp(reader: object) -> DocumentMetadata:
    try:
        xmp = reader.xmp_metadata  # type: ignore[attr-defined]
    except Exception:  # a broken XMP packet is no reason to refuse the file
        return DocumentMetadata()
    if xmp is None:
        return DocumentMetadata()
    title = (xmp.dc_title or {}).get("x-default")
    described = " ".join((xmp.dc_description or {}).values())
    dates = [str(d) for d in (xmp.dc_date or [])]
    year = next((int(m) for d in dates for m in re.findall(r"\b(?:19|20)\d\d\b", d)), None)
    raw = _xmp_text(xmp)
    doi = re.search(r"<prism:doi>([^<]+)</prism:doi>|prism:doi=\"([^\"]+)\"", raw)
    fields = {
        **_cited(described),
        "title": title.strip() if _good_title(title) else None,
        "creators": _good_creators(list(xmp.dc_creator or [])),
        "doi": _clean_doi(next(g for g in doi.groups() if g)) if doi else _find_doi(described),
    }
    return _layer("xmp", **fields, **({"year": year} if year else {}))


def _xmp_text(xmp: object) -> str:
    try:
        return xmp.stream.get_data().decode("utf-8", "replace")  # type: ignore[attr-defined]
    except Exception:
        return ""


def _from_info(reader: object) -> DocumentMetadata:
    try:
        info = reader.metadata  # type: ignore[attr-defined]
    except Exception:
        return DocumentMetadata()
    if not info:
        return DocumentMetadata()
    title = info.title
    author = info.author or ""
    # /Subject is a journal line at some publishers ("Journal … 2010 4:1. doi:…"), subject
    # areas at others: only a DOI or a whole citation line is taken from it.
    subject = " ".join(str(info.get(k) or "") for k in ("/Subject", "/Keywords"))
    return _layer(
        "info",
        **{
            **_cited(subject),
            "title": title.strip() if _good_title(title) else None,
            "creators": _good_creators(_split_authors(author)),
            "doi": _find_doi(subject),
        },
    )


def _from_creation_date(reader: object) -> DocumentMetadata:
    """The year the PDF was made: a last resort, below a year printed on the page (an article
    is often typeset the year after it is dated)."""
    try:
        made = reader.metadata.creation_date  # type: ignore[attr-defined]
    except Exception:
        return DocumentMetadata()
    return _layer("info", year=made.year if made else None)


# --- the first page as printed ---------------------------------------------------------------


def _first_page_text(path: Path) -> str:
    """Page 1's text with its running heads and footers, which the layout strips as furniture
    but which carry the journal's citation line."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        text = pdf[0].get_textpage().get_text_range() if len(pdf) else ""
    finally:
        pdf.close()
    # PDFium: \r\n between lines, \ufffe for a soft hyphen at a line end, \r before a "©"
    # drawn from a LaTeX font.
    text = text.replace("\ufffe\r\n", "").replace("\ufffe", "").replace("\rc ", "© ")
    return text.replace("\r\n", "\n")


def _from_layout(blocks: list[Block], title: str | None, text: str) -> DocumentMetadata:
    cited = {"year": _printed_year(text), **_citation_fields(text)}
    creators = _author_line(blocks, title)
    lead = cited.pop("first_author", None)
    if not creators and lead:
        creators = [Creator(family=lead)]  # "Marder. eLife 2012;1:e00353": the family name
    return _layer(
        "layout",
        title=title,
        creators=creators,
        doi=_find_doi(text),
        arxiv=_match(r"\barXiv:\s*(\d{4}\.\d{4,5}(?:v\d+)?)", text),
        pmid=_match(r"\bPMID:?\s*(\d{5,9})\b", text),
        licence=_licence(text),
        **cited,
    )


def _match(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def _clean_doi(doi: str) -> str:
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi.strip(), flags=re.I)
    return doi.rstrip(".,;:)]}")


def _find_doi(text: str) -> str | None:
    """The first DOI, preferring one labelled 'doi:', 'DOI' or doi.org (not a reference's)."""
    labelled = re.search(r"(?i)(?:\bdoi\b\s*:?\s*|doi\.org/)(10\.\d{4,9}/[^\s\"<>]+)", text)
    m = labelled or _DOI.search(text)
    return _clean_doi(m.group(1)) if m else None


# The journal's citation line, as journals print it on page 1 (running head or footer).
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_CITATION_LINES = [
    # BMC "Datta et al. Journal of Trauma Management & Outcomes 2010, 4:1"; eLife
    # "Marder. eLife 2012;1:e00353"; Info /Subject "Journal … 2010 4:1. doi:…"
    re.compile(
        r"(?:^|\n)(?:(?P<first_author>[A-Z][\w'’\-]+)(?:\s+et\s+al)?\.\s+)?"
        rf"(?P<venue>[A-Za-z][^\n\d]{{1,90}}?)\s+{_YEAR}[,;]?\s*(?P<volume>\d+)"
        r"(?:\((?P<issue>[\w\-]+)\))?:(?P<pages>e?\d+(?:[–\-]\d+)?)\b"
    ),
    # Portland "Clinical Science (2014) 126, 305–313"
    re.compile(
        rf"(?:^|\n)(?P<venue>[A-Z][^\n\d()]{{1,90}}?)\s+\({_YEAR}\)\s+(?P<volume>\d+)"
        r"(?:\((?P<issue>[\w\-]+)\))?,\s*(?P<pages>\d+[–\-]\d+)"
    ),
    # PeerJ "How to cite this article Webb et al. (2017), Title. PeerJ Comput. Sci. 3:e118"
    re.compile(
        rf"(?P<first_author>[A-Z][\w'’\-]+)(?:\s+et\s+al\.)?\s+\({_YEAR}\),\s+[^\n]+?\.\s+"
        r"(?P<venue>[A-Z][\w.&\- ]+?)\s*\n?\s*(?P<volume>\d+):(?P<pages>e?\d+)"
    ),
    # ACL Anthology "Proceedings of NAACL-HLT 2018, pages 84–91"
    re.compile(r"(?:^|\n)(?P<venue>Proceedings of [^\n]+?),\s+pages\s+(?P<pages>\d+[–\-]\d+)"),
    # Hindawi "Rehabilitation Research and Practice\nVolume 2010, Article ID 157939"
    re.compile(
        r"(?:^|\n)(?P<venue>[A-Z][^\n\d]{3,90})\nVolume\s+(?P<volume>\d+),\s+Article\s+ID\s+"
        r"(?P<pages>\d+)"
    ),
]


def _cited(text: str) -> dict[str, object]:
    """A citation line's fields without the first author's name (a record's own creators
    are whole names, not one family name from a running head)."""
    return {k: v for k, v in _citation_fields(text).items() if k != "first_author"}


def _citation_fields(text: str) -> dict[str, object]:
    """venue, volume, issue, pages, year and the first author's family name, when the text
    holds a journal's citation line."""
    for pattern in _CITATION_LINES:
        m = pattern.search(text)
        if not m:
            continue
        found: dict[str, object] = {k: v for k, v in m.groupdict().items() if v}
        found["venue"] = " ".join(str(found["venue"]).split()).strip(" ,.;")
        year = found.pop("year", None) or _match(
            r"\b((?:19|20)\d\d)\b", text[m.start() : m.end() + 80]
        )
        if year:
            found["year"] = int(year)
        if "pages" in found:
            found["pages"] = str(found["pages"]).replace("–", "-")
        return found
    return {}


_DATED = [
    r"\bPublished:?\s+(?:online\s+)?(?:\d{1,2}\s+)?[A-Z][a-z]+\.?\s+(?:\d{1,2},?\s+)?"
    r"((?:19|20)\d\d)\b",
    r"(?:©|\(c\)|\bCopyright)\s*(?:©\s*)?((?:19|20)\d\d)\b",
    r"\b(?:Accepted|Received):?\s+(?:\d{1,2}\s+)?[A-Z][a-z]+\.?\s+(?:\d{1,2},?\s+)?"
    r"((?:19|20)\d\d)\b",
]


def _printed_year(text: str) -> int | None:
    """Publication, copyright, then acceptance year, as printed on page 1."""
    for pattern in _DATED:
        m = re.search(pattern, text)
        if m:
            return int(m.group(1))
    return None


def _licence(text: str) -> str | None:
    """The licence's URL, else its name ('CC BY 4.0'), else the Creative Commons sentence."""
    glued = re.sub(r"\s+", "", text)  # a URL broken over two lines
    url = re.search(r"https?://creativecommons\.org/licenses/[a-z\-]+/\d\.\d", glued)
    if url:
        return url.group(0)
    name = re.search(r"\bCC[\s\-]BY(?:[\s\-](?:NC|ND|SA))*(?:[\s\-]\d\.\d)?", text)
    if name:
        return name.group(0).replace("-", " ")
    sentence = re.search(r"[^.\n]*Creative\s+Commons[^.]*\.", text)
    return " ".join(sentence.group(0).split()) if sentence else None


# --- the author line -------------------------------------------------------------------------

_MARKS = r"[∗*†‡§¶‖#⁎\d¹²³⁴⁵⁶⁷⁸⁹⁰]+"
_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "del", "la", "le", "ten", "dos"}
_NOT_NAMES = re.compile(
    r"(?i)\b(?:university|institute|department|school|college|hospital|centre|center|"
    r"laboratory|abstract|article|research|review|journal|volume|received|open|access|"
    r"correspondence|keywords?|introduction|editor)\b"
)


def _author_line(blocks: list[Block], title: str | None) -> list[Creator]:
    """The names in the first block under the title that reads as a list of names."""
    if not title:
        return []
    key = " ".join(title.split())
    start = next((i for i, b in enumerate(blocks) if key in " ".join(b.text.split())), None)
    if start is None:
        return []
    # Footnotes and credits ("ILLUSTRATION: BEN MARDER") are not the byline.
    following = [b for b in blocks[start + 1 : start + 5] if b.kind in (None, "front", "body")]
    for i, block in enumerate(following):
        text = block.text
        # BMC prints the line in pieces: "Josephine … Agyeman-Duah" then ", Antje Theurer, …"
        for after in following[i + 1 :]:
            if not after.text.lstrip().startswith((",", "and ")):
                break
            text += after.text
        names = _names(text)
        if names:
            return [creator_from_name(n) for n in names]
    return []


def _names(text: str) -> list[str]:
    """'A. Webb, T. Walsh and M. O'Connell' -> the names; [] when the text is not names."""
    text = text.replace("\x00", " ").replace("\x8e", " ")
    parts = [p.strip() for p in re.split(rf"\s*(?:{_MARKS}|,|;|\band\b|&)\s*", text)]
    parts = [p for p in parts if p]
    if not parts or _NOT_NAMES.search(text.split(":")[-1]):
        return []
    # A label before the names ("Abbreviated title: … activity Mario J. Lintz"): the first
    # part keeps its longest name-shaped tail.
    words = parts[0].split()
    tail = next((words[i:] for i in range(len(words)) if _is_name(words[i:])), None)
    if tail is None:
        return []
    parts[0] = " ".join(tail)
    names = [p for p in parts if _is_name(p.split())]
    # ACL prints names side by side without commas: parts too long to be one name are
    # dropped, but most of the line must still read as names.
    return names if len(names) >= 0.6 * len(parts) else []


def _is_name(words: list[str]) -> bool:
    if not 2 <= len(words) <= 5:
        return False
    if all(w.isupper() for w in words):
        return False  # a credit or banner in capitals; bylines print given names in lower case
    full = 0
    for w in words:
        if re.fullmatch(r"(?:[A-Z]\.?-?){1,3}", w):
            continue  # an initial: "S", "G.", "J.-P."
        if w in _PARTICLES:
            continue
        if not re.fullmatch(r"[A-Z][A-Za-z\u00c0-\u024f'’\-]*\.?", w) or w.endswith("."):
            return False
        full += 1
    return full >= 1
