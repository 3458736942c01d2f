"""Files -> raw page texts. One loader per format; folders are walked recursively."""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from index.errors import LoadError
from index.models import DocumentMetadata, FileWarning
from index.pdf import LayoutPage, OcrEngine, read_layout
from index.pdf.metadata import pdf_metadata
from index.pdf.ocr import PageProgress

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = [
    "SUPPORTED_SUFFIXES",
    "RawDocument",
    "doc_id_for",
    "expand_paths",
    "load_file",
    "reader_version",
]

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown", ".html", ".htm")
# Raised when reading a kind of file yields other text, labels or elements than before: a
# file indexed by an older reader is read again on ingest, though its bytes are unchanged.
# Kinds not listed, and documents indexed before versions were kept, are at 1.
# .pdf 2: page numbers stamped in footer forms, accents drawn late, superscript runs.
# .pdf 3: pages with no usable text layer are OCR'd (issue #26).
READER_VERSIONS: dict[str, int] = {".pdf": 4}  # 4: bibliographic metadata


@dataclass
class RawDocument:
    """Page texts as extracted, before cleaning."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    pages: list[str]
    title_from_file: bool = True
    warnings: list[FileWarning] = field(default_factory=list)
    layout: list[LayoutPage] | None = None  # PDFs: labelled blocks per page
    metadata: DocumentMetadata | None = None  # PDFs: XMP, Info and the first page's


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as named, and supported files inside folders (recursively, sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            yield p


def load_file(
    path: Path, *, ocr: OcrEngine | None = None, on_page: PageProgress | None = None
) -> RawDocument:
    """Read one file; raises LoadError naming the file (and page) on bad input.

    PDF pages with no usable text layer are OCR'd with `ocr` (None: never); `on_page` hears
    of each page OCR'd."""
    if not path.exists():
        raise LoadError(str(path), "no such file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            str(path),
            f"unsupported file type '{suffix or '(none)'}' "
            f"(supported: {', '.join(SUPPORTED_SUFFIXES)})",
        )
    data = path.read_bytes()
    if not data.strip():
        raise LoadError(str(path), "file is empty")
    raw = RawDocument(
        doc_id=doc_id_for(path),
        title=_title_from_name(path),
        source=str(path),
        content_hash=hashlib.sha256(data).hexdigest(),
        pages=[],
    )
    if suffix == ".pdf":
        with _library_notes(raw):
            _load_pdf(path, raw, ocr, on_page)
    elif suffix in (".html", ".htm"):
        _load_html(path, _decode(path, data), raw)
    else:
        _load_text(path, _decode(path, data), raw)
    _apply_sidecar(path, raw)
    return raw


def reader_version(path: str | Path) -> int:
    """The version of the reader for this kind of file (see READER_VERSIONS)."""
    return READER_VERSIONS.get(Path(path).suffix.lower(), 1)


def doc_id_for(path: Path) -> str:
    """A file's readable id: its lower-cased name, letters of any script kept.

    The indexer makes it unique: a second file with the same name gets `~` and a short
    hash of its path (index.store.Store.free_id).
    """
    name = unicodedata.normalize("NFC", path.name).lower()
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "document"


def _title_from_name(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip() or path.name


def _apply_sidecar(path: Path, raw: RawDocument) -> None:
    """Optional NAME.meta.json beside the file, e.g. {"title": "..."}."""
    meta = path.with_name(path.name + ".meta.json")
    if meta.is_file():
        try:
            title = json.loads(meta.read_text(encoding="utf-8")).get("title")
        except (ValueError, OSError) as exc:
            raise LoadError(str(meta), f"invalid metadata file: {exc}") from exc
        if isinstance(title, str) and title.strip():
            raw.title, raw.title_from_file = title.strip(), False


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(path: Path, data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(
                    str(path), f"not valid {encoding.upper()} text despite its byte-order mark"
                ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LoadError(
            str(path),
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at line {line}); "
            "save the file as UTF-8",
        ) from exc


def _load_text(path: Path, text: str, raw: RawDocument) -> None:
    # A form feed separates pages in text exported from PDFs (pdftotext convention).
    raw.pages = text.split("\f")
    title = _first_heading(text) if path.suffix.lower() in (".md", ".markdown") else None
    title = title or _first_line(text)
    if title:
        raw.title, raw.title_from_file = title, False


def _first_heading(markdown: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.MULTILINE)
    return m.group(1).strip() if m else None


def _first_line(text: str) -> str | None:
    """The first line, when it reads as a title: short, not ending like a sentence, and
    followed by more text (a one-line file is all body)."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if len(lines) < 2:
        return None
    line = re.sub(r"^#+\s*|\s*#+$", "", lines[0])  # a Markdown heading's marks
    if not 1 <= len(line.split()) <= 20 or len(line) > 200 or line.endswith((".", ",", ";")):
        return None
    return line


def _load_pdf(
    path: Path, raw: RawDocument, ocr: OcrEngine | None, on_page: PageProgress | None
) -> None:
    """pypdf opens the file (encryption, metadata, page labels); PDFium reads the layout,
    and Tesseract the pages that have no usable text layer."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(str(path), "PDF is encrypted; remove its password first")
        n_pages = len(reader.pages)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(str(path), f"not a readable PDF (corrupt or truncated: {exc})") from exc
    except Exception as exc:  # pypdf raises many kinds of error on broken files
        raise LoadError(str(path), f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if n_pages == 0:
        raise LoadError(str(path), "PDF has no pages")
    try:
        layout, layout_title = read_layout(path, ocr, on_page=on_page)
    except Exception as exc:  # PDFium refuses what pypdf let through: say which file
        raise LoadError(str(path), f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    # What is printed on the page wins: a PDF's own /PageLabels are often the producer's
    # (BMC's count from 0); they fill in only when no page prints a number.
    declared = None if any(p.label for p in layout) else _page_labels(reader)
    unreadable: list[LayoutPage] = []  # needed OCR, which could not run: one warning
    for page in layout:
        if declared and page.number <= len(declared):
            page.label = declared[page.number - 1]
        if page.problem and _OCR_UNAVAILABLE in page.problem:
            unreadable.append(page)
        elif page.problem:
            if not page.blocks:
                _check_decompression_limit(path, page.number, reader.pages[page.number - 1])
            raw.warnings.append(
                FileWarning(
                    page=page.number, message=f"page {page.number} {page.problem}; not indexed"
                )
            )
        raw.pages.append("\n\n".join(b.text for b in page.blocks))
    if unreadable:
        why = unreadable[0].problem.split(_OCR_UNAVAILABLE)[-1]  # type: ignore[union-attr]
        where = _page_ranges([p.number for p in unreadable])
        raw.warnings.append(
            FileWarning(
                page=unreadable[0].number,
                message=f"{where} {'has' if len(unreadable) == 1 else 'have'} no usable text "
                f"layer and cannot be OCR'd: {why}; not indexed",
            )
        )
    raw.layout = layout
    if not any(p.blocks for p in layout):
        hint = (
            "scanned images? run OCR first"
            if ocr is None or ocr.mode == "never"
            else "blank or unreadable pages"
        )
        if unreadable:
            hint = unreadable[0].problem.split(_OCR_UNAVAILABLE)[-1]  # type: ignore[union-attr]
        raise LoadError(str(path), f"no extractable text on any of its {n_pages} page(s) ({hint})")
    meta_title = (reader.metadata.title if reader.metadata else None) or ""
    title = meta_title.strip() if _good_title(meta_title, path) else layout_title
    if title:
        raw.title, raw.title_from_file = title, False
    try:
        raw.metadata = pdf_metadata(path, layout=(layout, layout_title), reader=reader)
    except Exception as exc:  # odd XMP or Info: the text still counts, the fields do not
        raw.warnings.append(FileWarning(message=f"bibliographic metadata unreadable: {exc}"))


_OCR_UNAVAILABLE = "cannot be OCR'd: "  # index.pdf.reader's mark for OCR that could not run


def _page_ranges(numbers: list[int]) -> str:
    """'page 3', 'pages 1-4, 7'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
    return f"{'page' if len(numbers) == 1 else 'pages'} {', '.join(parts)}"


class _Notes(logging.Handler):
    """pypdf's log records from one thread, counted by message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.seen[record.getMessage()] += 1


@contextmanager
def _library_notes(raw: RawDocument) -> Iterator[None]:
    """pypdf's robustness notes ("EOF marker not found", "fontTools is required…": 203
    stderr lines for nine PDFs) become one warning per message on this file's report."""
    notes, logger = _Notes(), logging.getLogger("pypdf")
    logger.addHandler(notes)  # a handler on the chain: Python's last-resort print is skipped
    try:
        yield
    finally:
        logger.removeHandler(notes)
        for message, n in notes.seen.items():
            times = f" ({n} times)" if n > 1 else ""
            raw.warnings.append(FileWarning(message=f"PDF reader: {message}{times}"))


def _page_labels(reader: PdfReader) -> list[str] | None:
    """The PDF's own /PageLabels, when it defines them (pypdf numbers pages 1.. otherwise)."""
    try:
        if "/PageLabels" not in reader.trailer["/Root"]:
            return None
        return list(reader.page_labels)
    except Exception:  # a broken label tree is no reason to refuse the file
        return None


_JUNK_TITLE = re.compile(
    r"^(?:microsoft word\s*-|untitled|\(anonymous\)|anonymous$|document\d*$|slide \d)"
    r"|\.(?:docx?|pdf|tex|dvi|indd|qxd|rtf)$",
    re.I,
)


def _good_title(title: str, path: Path | None = None) -> bool:
    """A metadata title worth showing: words, not a producer default, a job number or the
    file's own name (what Pillow, scanners and print drivers write)."""
    title = title.strip()
    words = re.findall(r"[^\W\d_]{2,}", title)
    if path is not None and _name_key(title) in {_name_key(path.name), _name_key(path.stem)}:
        return False
    return len(words) >= 2 and not _JUNK_TITLE.search(title)


def _name_key(name: str) -> str:
    return re.sub(r"[\W_]+", " ", name.lower()).strip()


def _check_decompression_limit(path: Path, number: int, page: object) -> None:
    """Name pypdf's decompression limit, which extract_text() hides behind an empty page."""
    from pypdf.errors import LimitReachedError

    try:
        page.get_contents()  # type: ignore[attr-defined]
    except LimitReachedError as exc:
        raise LoadError(
            str(path),
            "a content stream decompresses beyond pypdf's safety limit (a decompression "
            f"bomb, or an unusually large page): {exc}",
            page=number,
        ) from exc
    except Exception:  # any other problem is reported as before
        return


class _HTMLText(HTMLParser):
    """Visible text, headings marked as Markdown (the stdlib parser: no extra dependency)."""

    _SKIP: frozenset[str] = frozenset({"script", "style", "noscript", "template", "head", "svg"})
    _BLOCK: frozenset[str] = frozenset(
        {"p", "div", "section", "article", "li", "br", "tr", "table", "ul", "ol", "pre"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def _load_html(path: Path, html: str, raw: RawDocument) -> None:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    if not text.strip():
        raise LoadError(str(path), "HTML file has no visible text")
    raw.pages = [text]
    if parser.title.strip():
        raw.title, raw.title_from_file = " ".join(parser.title.split()), False
