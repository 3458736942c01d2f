"""BibTeX and RIS exports -> library entries with their files, through bibtexparser 2 and rispy.

The exports of Zotero, Better BibTeX, JabRef and Mendeley differ mostly in their `file` field:
    Zotero       file = {Full Text PDF:files/12/x.pdf:application/pdf}
    Better BibTeX file = {/home/me/Zotero/storage/ABCD1234/x.pdf}
    JabRef       file = {:papers/x.pdf:PDF;Supplement:papers/x-s1.pdf:PDF}
    Mendeley     file = {:C\\:/Users/me/Documents/x.pdf:pdf}
    RIS          L1  - files/12/x.pdf   (or file:///…, several L1 lines or ';'-separated)
Relative paths are resolved against the export's folder. An entry without a file is kept as
a metadata record (for matching loose PDFs); an entry that does not parse is one problem line
naming the file and the entry's line, and the rest of the file goes through.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from index.models import (
    Creator,
    DocumentMetadata,
    LibraryEntry,
    LibraryProblem,
    LibraryRead,
    MetadataSource,
)
from index.names import creator_from_name

if TYPE_CHECKING:
    from bibtexparser.library import Library
    from bibtexparser.model import Block

__all__ = ["read_bibfile"]

# Files PaperTrail can read from an entry (others, e.g. a .docx snapshot, are left out).
_READABLE = (".pdf", ".html", ".htm", ".txt", ".md")

# BibTeX entry type / RIS TY -> CSL type (what citation export will write).
_BIBTEX_TYPES = {
    "article": "article-journal",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "proceedings": "book",
    "book": "book",
    "incollection": "chapter",
    "inbook": "chapter",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "thesis": "thesis",
    "techreport": "report",
    "report": "report",
    "online": "webpage",
    "misc": "document",
    "unpublished": "manuscript",
}
_RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "CPAPER": "paper-conference",
    "CONF": "paper-conference",
    "BOOK": "book",
    "CHAP": "chapter",
    "THES": "thesis",
    "RPRT": "report",
    "ELEC": "webpage",
    "GEN": "document",
    "UNPB": "manuscript",
}


def read_bibfile(path: Path) -> LibraryRead:
    """The entries of a .bib or .ris export (by suffix; .txt RIS exports by content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problem = LibraryProblem(source=str(path), message=f"cannot read the export: {exc}")
        return LibraryRead(problems=[problem])
    if path.suffix.lower() == ".ris" or re.match(r"\s*TY  - ", text):
        return _read_ris(path, text)
    return _read_bibtex(path, text)


# --- BibTeX ----------------------------------------------------------------------------------


def _read_bibtex(path: Path, text: str) -> LibraryRead:
    from bibtexparser.middlewares import LatexDecodingMiddleware

    library = _quiet_parse(text)
    # `file` fields hold paths, where "\:" is an escaped colon, not LaTeX; names are split
    # before decoding, so that a braced "{World Health Organization}" stays one name.
    raw: dict[str, dict[str, str]] = {}
    for entry in library.entries:
        raw[entry.key] = {}
        for name in ("file", "author", "editor"):
            field = entry.fields_dict.get(name)
            if field is not None:
                raw[entry.key][name] = str(field.value)
                entry.pop(name)
    library = LatexDecodingMiddleware().transform(library)
    out = LibraryRead()
    for block in library.failed_blocks:
        out.problems.append(_failed(path, block))
    for entry in library.entries:
        fields = {f.key.lower(): " ".join(str(f.value).split()) for f in entry.fields}
        meta = _bibtex_metadata(entry.key, entry.entry_type.lower(), fields, raw[entry.key])
        paths = _bibtex_files(raw[entry.key].get("file", ""))
        out.entries.append(_entry(path, entry.key, meta, paths, out))
    return out


def _quiet_parse(text: str) -> Library:
    """bibtexparser's parse, its own warnings kept off stderr: each becomes a problem line."""
    import logging

    import bibtexparser

    logger = logging.getLogger("bibtexparser")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return bibtexparser.parse_string(text)
    finally:
        logger.setLevel(level)


def _failed(path: Path, block: Block) -> LibraryProblem:
    """'refs.bib: line 15 (Broken2011): Unexpected block start …'."""
    error = getattr(block, "error", None)
    why = getattr(error, "abort_reason", None) or str(error or "") or "does not parse"
    # start_line is 0-based and may point at blank lines before the entry.
    text = block.raw
    line = block.start_line + 1 + text[: len(text) - len(text.lstrip())].count("\n")
    key = re.match(r"\s*@\w+\s*\{\s*([^,\s]+)", text)
    item = f"line {line}" + (f" ({key.group(1)})" if key else "")
    return LibraryProblem(source=str(path), item=item, message=" ".join(why.split()))


def _bibtex_metadata(
    key: str, kind: str, f: dict[str, str], raw: dict[str, str]
) -> DocumentMetadata:
    date = f.get("year") or f.get("date") or ""
    year = re.search(r"\b(\d{4})\b", date)
    creators = [_bibtex_name(n) for n in _split_names(raw.get("author", ""))]
    creators += [_bibtex_name(n, "editor") for n in _split_names(raw.get("editor", ""))]
    # biblatex (Better BibTeX) puts arXiv and PubMed ids in eprint, named by eprinttype.
    eprint_type = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    arxiv = (
        f.get("arxiv") or f.get("arxivid") or (f.get("eprint") if eprint_type == "arxiv" else None)
    )
    pmid = f.get("pmid") or (f.get("eprint") if eprint_type == "pubmed" else None)
    return _metadata(
        "bibtex",
        key=key,
        item_type=_BIBTEX_TYPES.get(kind, "document"),
        title=f.get("title"),
        creators=creators,
        year=int(year.group(1)) if year else None,
        venue=f.get("journal") or f.get("journaltitle") or f.get("booktitle"),
        volume=f.get("volume"),
        issue=f.get("number") or f.get("issue"),
        pages=f.get("pages"),
        doi=f.get("doi"),
        arxiv=arxiv,
        pmid=pmid,
        licence=f.get("license") or f.get("licence"),
        url=f.get("url"),
    )


def _bibtex_name(raw: str, role: str = "author") -> Creator:
    from pylatexenc.latex2text import LatexNodes2Text  # what bibtexparser decodes with

    decoded = LatexNodes2Text().latex_to_text(raw)
    if re.fullmatch(r"\{[^{}]*\}", raw.strip()):
        return Creator(name=" ".join(decoded.split()), role=role)  # an institution
    return creator_from_name(decoded, role)


def _split_names(text: str) -> list[str]:
    from bibtexparser.middlewares.names import split_multiple_persons_names

    return split_multiple_persons_names(text) if text.strip() else []


def _bibtex_files(field: str) -> list[str]:
    """Paths in a `file` field: 'desc:path:type' or a bare path, ';'-separated, '\\:' escaped."""
    paths: list[str] = []
    field = field.replace("$\\backslash$", "\\")  # Mendeley's LaTeX-escaped backslash
    for item in re.split(r"(?<!\\);", field):
        parts = re.split(r"(?<!\\):", item.strip())
        if len(parts) >= 3:
            raw = ":".join(parts[1:-1])  # an unescaped drive colon stays in the path
        elif len(parts) == 2 and len(parts[0]) == 1 and parts[1][:1] in "/\\":
            raw = item.strip()  # C:/Users/…
        else:
            raw = parts[-1] if len(parts) == 2 else parts[0]
        raw = raw.replace("\\:", ":").replace("\\;", ";").replace("\\\\", "\\").strip()
        if raw:
            paths.append(raw)
    return paths


# --- RIS -------------------------------------------------------------------------------------


def _read_ris(path: Path, text: str) -> LibraryRead:
    import rispy

    out = LibraryRead()
    for line_no, chunk in _ris_records(text):
        try:
            records = rispy.loads(chunk, list_tags=[*rispy.LIST_TYPE_TAGS, "L1", "L2"])
        except Exception as exc:  # rispy raises plain IOError/ValueError on a bad record
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            out.problems.append(
                LibraryProblem(source=str(path), item=f"line {line_no}", message=message)
            )
            continue
        if not records:  # rispy skips a record without its TY or ER line, silently
            out.problems.append(
                LibraryProblem(
                    source=str(path),
                    item=f"line {line_no}",
                    message="not a RIS record (no 'TY  - ' or 'ER  - ' line)",
                )
            )
        for record in records:
            key = str(record.get("id") or f"line {line_no}")
            meta = _ris_metadata(key, record)
            paths = [
                p.strip()
                for tag in ("file_attachments1", "file_attachments2")
                for value in record.get(tag, [])
                for p in value.split(";")
                if p.strip()
            ]
            out.entries.append(_entry(path, key, meta, paths, out))
    return out


def _ris_records(text: str) -> list[tuple[int, str]]:
    """Each record ('TY  - ' … 'ER  - ') with the line it starts on, so one bad record is
    reported alone and the others still read."""
    records: list[tuple[int, str]] = []
    first, lines = 0, []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("TY  -"):
            first, lines = n, []
        elif not first and line.strip():
            first = n  # a record that lost its TY line starts here
        lines.append(line)
        if line.startswith("ER  -"):
            records.append((first or n, "\n".join(lines) + "\n"))
            first, lines = 0, []
    if first:
        records.append((first, "\n".join(lines) + "\n"))
    return records


def _ris_metadata(key: str, r: dict) -> DocumentMetadata:
    date = str(r.get("year") or r.get("publication_year") or r.get("date") or "")
    year = re.search(r"\b(\d{4})\b", date)
    names = r.get("authors") or r.get("first_authors") or []
    editors = r.get("secondary_authors") if r.get("type_of_reference") == "CHAP" else None
    start, end = r.get("start_page"), r.get("end_page")
    urls = r.get("urls") or []
    return _metadata(
        "ris",
        key=key if r.get("id") else None,
        item_type=_RIS_TYPES.get(str(r.get("type_of_reference", "")), "document"),
        title=r.get("title") or r.get("primary_title"),
        creators=[creator_from_name(n) for n in names]
        + [creator_from_name(n, "editor") for n in editors or []],
        year=int(year.group(1)) if year else None,
        venue=r.get("secondary_title") or r.get("journal_name") or r.get("alternate_title3"),
        volume=r.get("volume"),
        issue=r.get("number"),
        pages=f"{start}-{end}" if start and end else start,
        doi=r.get("doi"),
        url=urls[0] if urls else None,
    )


# --- shared ----------------------------------------------------------------------------------


def _metadata(source: MetadataSource, **values: object) -> DocumentMetadata:
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    if isinstance(kept.get("pages"), str):
        kept["pages"] = re.sub(r"\s*[–—-]+\s*", "-", str(kept["pages"]))
    if isinstance(kept.get("doi"), str):
        kept["doi"] = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", str(kept["doi"]))
    fields = {k: v for k, v in kept.items() if k != "key"}
    return DocumentMetadata(**kept, sources=dict.fromkeys(fields, source))  # type: ignore[arg-type]


def _entry(
    export: Path,
    key: str,
    meta: DocumentMetadata,
    paths: list[str],
    out: LibraryRead,
) -> LibraryEntry:
    files: list[str] = []
    for raw in paths:
        resolved = _resolve(export, raw)
        if resolved.suffix.lower() not in _READABLE:
            continue
        if resolved.is_file():
            files.append(str(resolved))
        else:
            out.problems.append(
                LibraryProblem(
                    source=str(export), item=key, message=f"attached file not found: {raw}"
                )
            )
    return LibraryEntry(key=key, metadata=meta, files=files)


def _resolve(export: Path, raw: str) -> Path:
    if raw.startswith("file:"):
        raw = unquote(urlparse(raw).path)
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (export.parent / path).resolve()
