"""Citations as researchers write them, and the cited works exported as BibTeX, RIS, CSL-JSON.

Pure functions over `DocumentMetadata` and `Citation` (index/models.py): no store, no I/O.
    reference(meta, fallback_title=...)  'Datta et al. (2010), *Journal of …* 4:1'
    locator(page_label, page, section)   'p. 9, §Results'
    doi_url(doi)                         'https://doi.org/10.1186/1752-2897-4-1'
    works_from_citations(...) -> export(works, "bibtex" | "ris" | "csl-json")
Every export parses back with bibtexparser 2 / rispy / json, and with index.bibfiles, to the
same title, authors, year, venue, volume, issue, pages and DOI (tests/test_cite.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from index.models import Citation, Creator, DocumentMetadata

__all__ = [
    "EXPORT_FORMATS",
    "CitedWork",
    "ExportFormat",
    "byline",
    "citation_keys",
    "doi_url",
    "export",
    "locator",
    "reference",
    "source_line",
    "to_bibtex",
    "to_csl_json",
    "to_ris",
    "works_from_citations",
]

ExportFormat = Literal["bibtex", "ris", "csl-json"]
EXPORT_FORMATS: tuple[str, ...] = ("bibtex", "ris", "csl-json")

# File suffix and MIME type per format, for a download button or `--cite … > file`.
EXPORT_SUFFIX: dict[str, str] = {"bibtex": ".bib", "ris": ".ris", "csl-json": ".json"}
EXPORT_MIME: dict[str, str] = {
    "bibtex": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "csl-json": "application/vnd.citationstyles.csl+json",
}


# --- in-text reference -----------------------------------------------------------------------


def reference(meta: DocumentMetadata | None, *, fallback_title: str, markdown: bool = True) -> str:
    """'Datta et al. (2010), *Journal of Trauma Management & Outcomes* 4:1'.

    One author 'Marder (2012)', two 'Lintz and Felsen (2016)', more 'Cohan et al. (2020)';
    no year 'n.d.'; no authors: the title in quotes; no metadata: `fallback_title`.
    `markdown=False` gives the same text without italics or escapes (the caller escapes it
    for HTML)."""
    esc = _md_escape if markdown else _same
    if meta is None:
        return esc(fallback_title)
    year = str(meta.year) if meta.year else "n.d."
    who = _authors_text(meta.creators)
    if who:
        head = f"{esc(who)} ({year})"
    else:
        head = f"“{esc(meta.title or fallback_title)}” ({year})"
    if not meta.venue:
        return head
    venue = f"*{esc(meta.venue)}*" if markdown else meta.venue
    details = _details(meta)
    if not details:
        return f"{head}, {venue}"
    # '*Journal* 4:1', but '*Proceedings …*, pp. 84–91': pages alone after a comma.
    return f"{head}, {venue}{' ' if meta.volume else ', '}{esc(details)}"


def byline(meta: DocumentMetadata | None) -> str:
    """'Datta et al. 2010' for a document list; empty without authors or year."""
    if meta is None:
        return ""
    return " ".join(x for x in (_authors_text(meta.creators), str(meta.year or "")) if x)


def _authors_text(creators: list[Creator]) -> str:
    names = [c.display for c in creators if c.role == "author" and c.display]
    suffix = ""
    if not names:  # an edited book is cited by its editors
        names = [c.display for c in creators if c.role == "editor" and c.display]
        suffix = "" if not names else (" (ed.)" if len(names) == 1 else " (eds.)")
    if not names:
        return ""
    if len(names) == 1:
        return names[0] + suffix
    if len(names) == 2:
        return f"{names[0]} and {names[1]}{suffix}"
    return f"{names[0]} et al.{suffix}"


def _details(meta: DocumentMetadata) -> str:
    """volume(issue):pages, '126(5):305–313'; volume and an article number '4:1'."""
    pages = _en_dash(meta.pages) if meta.pages else ""
    if meta.volume:
        out = meta.volume + (f"({meta.issue})" if meta.issue else "")
        return out + (f":{pages}" if pages else "")
    # Without a volume (proceedings) a bare '84–91' reads as a volume: say what it is.
    parts = [f"no. {meta.issue}"] if meta.issue else []
    if pages:
        parts.append(f"pp. {pages}" if "–" in pages else pages)
    return ", ".join(parts)


def locator(page_label: str | None, page: int, section: str | None) -> str:
    """'p. 9, §Results': the printed page label when known (else the file's page number)."""
    out = f"p. {page_label or page}"
    return f"{out}, §{section}" if section else out


def source_line(meta: DocumentMetadata | None, citation: Citation, *, markdown: bool = True) -> str:
    """A citation's source as it reads under a quote: reference, then page and section."""
    ref = reference(meta, fallback_title=citation.title, markdown=markdown)
    where = locator(citation.page_label, citation.page, citation.section)
    return f"{ref}, {_md_escape(where) if markdown else where}"


def doi_url(doi: str) -> str:
    """'https://doi.org/10.1186/1752-2897-4-1' (a 'doi:' or resolver prefix is dropped).

    Characters a URL cannot carry (#, %, ?, spaces, <, >) are percent-encoded, as the DOI
    Handbook asks; the usual DOI punctuation stays readable."""
    bare = re.sub(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi.strip(), flags=re.I)
    return "https://doi.org/" + quote(bare, safe="/:;()[]._-+,=!$&'*@~")


def _md_escape(text: str) -> str:
    # A file name 'my_paper_v2' or a venue with '*' must not turn into emphasis or links.
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def _same(text: str) -> str:
    return text


def _en_dash(pages: str) -> str:
    return re.sub(r"\s*[-–—]+\s*", "–", pages)


# --- cited works -----------------------------------------------------------------------------


class CitedWork(BaseModel):
    """One document cited in an answer or conversation, with the pages cited from it."""

    doc_id: str
    metadata: DocumentMetadata | None = None
    title: str = Field(description="The document's title, used when it has no metadata.")
    pages: list[str] = Field(
        default_factory=list,
        description="Cited page labels (the printed number, else the file's page), in order.",
    )


def works_from_citations(
    citations: Iterable[Citation], metadata_by_doc: Mapping[str, DocumentMetadata | None]
) -> list[CitedWork]:
    """One CitedWork per document, in first-cited order, with its cited pages merged."""
    order: list[str] = []
    titles: dict[str, str] = {}
    pages: dict[str, dict[str, int]] = {}  # doc -> label -> first physical page
    for c in citations:
        if c.doc_id not in pages:
            order.append(c.doc_id)
            titles[c.doc_id] = c.title
            pages[c.doc_id] = {}
        label = c.page_label or str(c.page)
        seen = pages[c.doc_id].get(label)
        pages[c.doc_id][label] = c.page if seen is None else min(seen, c.page)
    return [
        CitedWork(
            doc_id=doc,
            metadata=metadata_by_doc.get(doc),
            title=titles[doc],
            # Sorted by the page in the file: labels may be roman numerals or 'e5'.
            pages=sorted(pages[doc], key=lambda label, d=doc: (pages[d][label], label)),
        )
        for doc in order
    ]


def export(works: list[CitedWork], fmt: ExportFormat) -> str:
    """The works as a BibTeX, RIS or CSL-JSON file's text."""
    writers = {"bibtex": to_bibtex, "ris": to_ris, "csl-json": to_csl_json}
    if fmt not in writers:
        raise ValueError(f"unknown citation format {fmt!r}: bibtex, ris or csl-json")
    return writers[fmt](works)


def _note(work: CitedWork) -> str | None:
    return f"Cited pages: {', '.join(work.pages)}" if work.pages else None


def _meta(work: CitedWork) -> DocumentMetadata:
    """The work's metadata; a document without any still exports its title."""
    meta = work.metadata or DocumentMetadata()
    return meta if meta.title else meta.model_copy(update={"title": work.title})


def _people(meta: DocumentMetadata, role: str) -> list[Creator]:
    return [c for c in meta.creators if c.role == role and c.display]


# --- citation keys ---------------------------------------------------------------------------

# What BibTeX and biber accept in a key: printable ASCII without separators or specials.
_VALID_KEY = re.compile(r"[!-~]+")
_KEY_FORBIDDEN = set(",{}()\"'#%~\\= ")
# A Zotero item key (8 of Zotero's 32 id characters) names a database row, not a work a
# researcher cites: \cite{ABCD2345} matches nothing in their .bib, so it is not reused.
_ZOTERO_ITEM_KEY = re.compile(r"[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}")
_STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "and", "to", "with", "at", "by"}


def citation_keys(works: list[CitedWork]) -> list[str]:
    """A unique key per work: its own citation key when valid, else familyYEARword
    ('datta2010complications'); repeats get a, b, … ('marder2012gooda')."""
    keys: list[str] = []
    used: set[str] = set()
    for work in works:
        base = _own_key(work.metadata) or _made_key(_meta(work))
        key, n = base, 0
        while key in used:
            key = base + _suffix(n)
            n += 1
        used.add(key)
        keys.append(key)
    return keys


def _own_key(meta: DocumentMetadata | None) -> str | None:
    key = meta.key if meta else None
    if not key or not _VALID_KEY.fullmatch(key) or _KEY_FORBIDDEN & set(key):
        return None
    if "zotero" in meta.sources.values() and _ZOTERO_ITEM_KEY.fullmatch(key):  # type: ignore[union-attr]
        return None
    return key


def _made_key(meta: DocumentMetadata) -> str:
    authors = _people(meta, "author") or _people(meta, "editor")
    family = _ascii_word(authors[0].family or authors[0].display) if authors else ""
    words = [_ascii_word(w) for w in re.split(r"[\s\-–—:/]+", meta.title or "")]
    words = [w for w in words if w]
    first = next((w for w in words if w not in _STOPWORDS), words[0] if words else "")
    return f"{family}{meta.year or ''}{first}" or "work"


def _ascii_word(text: str) -> str:
    # 'Dahlström' -> 'dahlstrom', "O'Connell" -> 'oconnell': ASCII keys work with every BibTeX.
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _suffix(n: int) -> str:
    """a, b, …, z, aa, ab, … for the second, third, … work with the same key."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


# --- BibTeX ----------------------------------------------------------------------------------

_BIBTEX_TYPES = {
    "article-journal": "article",
    "article-magazine": "article",
    "article-newspaper": "article",
    "paper-conference": "inproceedings",
    "book": "book",
    "chapter": "incollection",
    "report": "techreport",
    "manuscript": "unpublished",
}
# LaTeX's special characters in text fields; index.bibfiles decodes them back (pylatexenc).
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))
# A word with a capital after its first letter (SPECTER, eLife, mRNA, ACE2): braced so that a
# sentence-case style does not lower it. A plain Title-Case word is left for the style.
_PROTECT_RE = re.compile(r"(?<![\w\\])(\w+[A-Z]\w*)")


def to_bibtex(works: list[CitedWork]) -> str:
    """The works as BibTeX entries (bibtexparser 2's writer), UTF-8, cited pages in `note`."""
    import bibtexparser
    from bibtexparser.library import Library
    from bibtexparser.model import Entry, Field
    from bibtexparser.writer import BibtexFormat

    library = Library()
    for work, key in zip(works, citation_keys(works), strict=True):
        meta = _meta(work)
        kind = _BIBTEX_TYPES.get(meta.item_type or "", "misc")
        venue_field = "journal" if kind == "article" else "booktitle"
        values: list[tuple[str, str | None]] = [
            ("title", _protect_case(_latex(meta.title or work.title))),
            ("author", _bibtex_names(_people(meta, "author"))),
            ("editor", _bibtex_names(_people(meta, "editor"))),
            (venue_field, _latex(meta.venue) if meta.venue else None),
            ("year", str(meta.year) if meta.year else None),
            ("volume", _latex(meta.volume) if meta.volume else None),
            ("number", _latex(meta.issue) if meta.issue else None),
            ("pages", re.sub(r"\s*[-–—]+\s*", "--", meta.pages) if meta.pages else None),
            # doi and url are verbatim fields in BibTeX/biblatex: not LaTeX-escaped.
            ("doi", meta.doi),
            ("url", meta.url),
            ("eprint", meta.arxiv),
            ("eprinttype", "arxiv" if meta.arxiv else None),
            ("pmid", meta.pmid),
            ("note", _latex(_note(work) or "") or None),
        ]
        fields = [Field(name, value) for name, value in values if value]
        library.add(Entry(kind, key, fields))
    layout = BibtexFormat()
    layout.block_separator = "\n"  # one blank line between entries, as reference managers do
    return bibtexparser.write_string(library, bibtex_format=layout)


def _latex(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], text)


def _protect_case(text: str) -> str:
    return _PROTECT_RE.sub(r"{\1}", text)


def _bibtex_names(creators: list[Creator]) -> str | None:
    return " and ".join(_bibtex_name(c) for c in creators) or None


def _bibtex_name(c: Creator) -> str:
    """'Family, Given'; an institution braced whole, so BibTeX does not split it."""
    if c.name or not c.family:
        return "{" + _latex(c.display) + "}"
    family = _latex(c.family)
    # A family name with ' and ' or a comma in it would split the list: brace it.
    if re.search(r"\band\b|,", family):
        family = "{" + family + "}"
    given, _, jr = c.given.partition(", ")  # index.names keeps 'Jr.' after a comma
    if jr:
        return f"{family}, {_latex(jr)}, {_latex(given)}"
    return f"{family}, {_latex(given)}" if given else family


# --- RIS -------------------------------------------------------------------------------------

_RIS_TYPES = {
    "article-journal": "JOUR",
    "article-magazine": "MGZN",
    "article-newspaper": "NEWS",
    "paper-conference": "CONF",
    "book": "BOOK",
    "chapter": "CHAP",
    "report": "RPRT",
    "thesis": "THES",
    "webpage": "ELEC",
    "manuscript": "UNPB",
}


def to_ris(works: list[CitedWork]) -> str:
    """The works as RIS records (rispy): TY, ID, AU 'Family, Given', TI, T2, PY, VL, IS,
    SP/EP, DO, UR, N1 'Cited pages: …'."""
    import rispy

    records: list[dict[str, object]] = []
    for work, key in zip(works, citation_keys(works), strict=True):
        meta = _meta(work)
        start, end = _page_range(meta.pages)
        record: dict[str, object] = {
            "type_of_reference": _RIS_TYPES.get(meta.item_type or "", "GEN"),
            "id": key,
            "authors": [_ris_name(c) for c in _people(meta, "author")],
            "secondary_authors": [_ris_name(c) for c in _people(meta, "editor")],
            "title": meta.title or work.title,
            "secondary_title": meta.venue,
            "year": str(meta.year) if meta.year else None,
            "volume": meta.volume,
            "number": meta.issue,
            "start_page": start,
            "end_page": end,
            "doi": meta.doi,
            "urls": [meta.url] if meta.url else [],
            "notes": [n for n in [_note(work)] if n],
        }
        records.append({k: v for k, v in record.items() if v not in (None, "", [])})
    return rispy.dumps(records, implementation=_ris_writer())


def _ris_writer() -> type:
    from rispy.writer import RisWriter

    class PlainRisWriter(RisWriter):
        def set_header(self, count: int) -> str:
            return ""  # rispy numbers records ('1.'); RIS has no such line, and readers warn

    return PlainRisWriter


def _ris_name(c: Creator) -> str:
    # RIS has no literal-name marker: an institution is written as one name without a comma,
    # which Zotero and EndNote read as a single-field name.
    if c.name or not c.family:
        return c.display
    given, _, jr = c.given.partition(", ")
    return ", ".join(p for p in (c.family, given, jr) if p)


def _page_range(pages: str | None) -> tuple[str | None, str | None]:
    if not pages:
        return None, None
    start, _, end = re.sub(r"\s*[-–—]+\s*", "-", pages).partition("-")
    return start or None, end or None


# --- CSL-JSON --------------------------------------------------------------------------------


def to_csl_json(works: list[CitedWork]) -> str:
    """The works as a CSL-JSON array (what Zotero, Pandoc and citeproc read)."""
    items: list[dict[str, object]] = []
    for work, key in zip(works, citation_keys(works), strict=True):
        meta = _meta(work)
        item: dict[str, object] = {
            "id": key,
            "citation-key": key,
            "type": meta.item_type or "document",
            "title": meta.title or work.title,
            "author": [_csl_name(c) for c in _people(meta, "author")],
            "editor": [_csl_name(c) for c in _people(meta, "editor")],
            "issued": {"date-parts": [[meta.year]]} if meta.year else None,
            "container-title": meta.venue,
            "volume": meta.volume,
            "issue": meta.issue,
            "page": re.sub(r"\s*[-–—]+\s*", "-", meta.pages) if meta.pages else None,
            "DOI": meta.doi,
            "URL": meta.url,
            "PMID": meta.pmid,
            "note": _note(work),
        }
        items.append({k: v for k, v in item.items() if v not in (None, "", [])})
    return json.dumps(items, ensure_ascii=False, indent=2)


def _csl_name(c: Creator) -> dict[str, str]:
    if c.name or not c.family:
        return {"literal": c.display}
    return {k: v for k, v in (("family", c.family), ("given", c.given)) if v}
