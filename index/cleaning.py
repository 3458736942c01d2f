"""Raw pages -> one clean Document: page furniture removed, words re-joined, headings marked.

The cleaned text is what chunks, offsets and quotes refer to. Headings are put in
paragraphs of their own so that no quoted sentence starts with a heading.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from index.loaders import RawDocument
from index.models import Document, Element, PageSpan, SectionSpan
from index.pdf import LayoutPage
from index.sections import find_headings

__all__ = ["clean"]

_EDGE_LINES = 3  # header/footer candidates at each end of a page
_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s+)?[-–—]?\s*(\d{1,4})\s*[-–—]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$", re.I
)
_ID_LINE = re.compile(r"^(?=\S*\d)(?=\S*[A-Za-z])(?:\S*_\S*|[A-Za-z]+\d+[A-Za-z]+\d+\S*)$")
_B64_TOKEN = re.compile(r"^[A-Za-z0-9+/]{8,}={0,2}$")
# "Journal, 2024, Vol.14, No.2, 123-131 http://site/j 128": header, URL, then page number.
_INLINE_HEADER = re.compile(
    r"^\s*(?P<header>[^\n]{0,250}?\b(?:19|20)\d\d\b[^\n]{0,150}?"
    r"(?:https?://|www\.)\S+)\s+(?P<page>\d{1,4})(?=\s)"
)


def clean(raw: RawDocument) -> Document:
    """Clean every page, find headings and join the pages into one text."""
    if raw.layout is not None:
        return _from_layout(raw, raw.layout)
    pages = [_normalise_chars(p) for p in raw.pages]
    pages, labels = _strip_furniture(pages)
    text_parts: list[str] = []
    spans: list[PageSpan] = []
    sections: list[SectionSpan] = []
    offset = 0
    for number, (page, label) in enumerate(zip(pages, labels, strict=True), start=1):
        page_text, page_sections = _mark_headings(_tidy(page))
        spans.append(PageSpan(page=number, start=offset, label=label))
        sections += [
            s.model_copy(update={"start": s.start + offset, "end": s.end + offset})
            for s in page_sections
        ]
        text_parts.append(page_text)
        offset += len(page_text) + 2
    return Document(
        doc_id=raw.doc_id,
        title=raw.title,
        source=raw.source,
        content_hash=raw.content_hash,
        text="\n\n".join(text_parts),
        pages=spans,
        sections=sections,
        warnings=list(raw.warnings),
    )


def _normalise_chars(text: str) -> str:
    # NFKC folds ligatures (ﬁ -> fi) and full-width forms that PDFs emit.
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u00ad", "").replace("\u00a0", " ")


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _strip_furniture(pages: list[str]) -> tuple[list[str], list[str | None]]:
    """Drop running headers/footers, page numbers, ID and watermark lines; keep page labels."""
    page_lines = [p.split("\n") for p in pages]
    edge_keys: Counter[str] = Counter()
    for lines in page_lines:
        edge_keys.update({_line_key(ln) for ln in _edges(lines) if ln.strip()})
    repeated = {k for k, n in edge_keys.items() if len(pages) >= 2 and n >= max(2, len(pages) / 2)}

    out: list[str] = []
    labels: list[str | None] = []
    for lines in page_lines:
        label: str | None = None
        edge_idx = {i for i, _ in _edges_indexed(lines)}
        kept = []
        for i, line in enumerate(lines):
            if i in edge_idx and line.strip():
                m = _PAGE_NUMBER.match(line)
                if m or _line_key(line) in repeated or _ID_LINE.match(line.strip()):
                    label = label or (m.group(1) if m else _trailing_number(line))
                    continue
            if _is_watermark(line):
                continue
            kept.append(line)
        text = "\n".join(kept)
        inline = _INLINE_HEADER.match(text)
        if inline:
            label = inline.group("page")
            text = text[inline.end() :]
        out.append(text)
        labels.append(label)
    return out, labels


def _edges_indexed(lines: list[str]) -> list[tuple[int, str]]:
    nonblank = [(i, ln) for i, ln in enumerate(lines) if ln.strip()]
    return nonblank[:_EDGE_LINES] + nonblank[-_EDGE_LINES:]


def _edges(lines: list[str]) -> list[str]:
    return [ln for _, ln in _edges_indexed(lines)]


def _trailing_number(line: str) -> str | None:
    m = re.search(r"(?:^|\s)(\d{1,4})\s*$", line) or re.match(r"^\s*(\d{1,4})\s", line)
    return m.group(1) if m else None


def _is_watermark(line: str) -> bool:
    """A line made only of base64-like tokens (publisher tracking stamps)."""
    tokens = line.split()
    if not tokens or sum(map(len, tokens)) < 12 or not all(map(_B64_TOKEN.match, tokens)):
        return False
    scrambled = [
        len(re.findall(r"[a-z][A-Z]", t)) >= 3 or bool(re.search(r"\d|=$", t)) for t in tokens
    ]
    return all(scrambled) and any(re.search(r"\d|=$", t) for t in tokens)


def _tidy(text: str) -> str:
    """Join hyphenated line breaks, unwrap lines into paragraphs, collapse spaces."""
    text = re.sub(r"([a-z])-\n[ \t]*([a-z])", r"\1\2", text)
    text = re.sub(r"-\n[ \t]*", "-", text)
    paragraphs = []
    for para in re.split(r"\n[ \t]*\n", text):
        lines = [ln.strip() for ln in para.split("\n") if ln.strip()]
        # Markdown headings and list items keep their own lines.
        buf: list[str] = []
        for ln in lines:
            if re.match(r"#{1,6}\s|[-*+]\s|\d+[.)]\s", ln) and buf:
                paragraphs.append(" ".join(buf))
                buf = []
            buf.append(ln)
            if ln.startswith("#"):
                paragraphs.append(" ".join(buf))
                buf = []
        if buf:
            paragraphs.append(" ".join(buf))
    return "\n\n".join(re.sub(r"[ \t]+", " ", p).strip() for p in paragraphs if p.strip())


def _mark_headings(text: str) -> tuple[str, list[SectionSpan]]:
    """Put each heading in a paragraph of its own; return the new text and heading spans."""
    parts: list[str] = []
    sections: list[SectionSpan] = []
    pos = 0
    out_len = 0
    for h in find_headings(text):
        body = text[pos : h.start].rstrip()
        if body:
            parts.append(body)
            out_len += len(body) + 2
        heading = text[h.start : h.end].lstrip("#").strip()
        sections.append(
            SectionSpan(start=out_len, end=out_len + len(heading), number=h.number, title=h.title)
        )
        parts.append(heading)
        out_len += len(heading) + 2
        pos = h.end
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
    if text[pos:].strip():
        parts.append(text[pos:].strip())
    return "\n\n".join(parts), sections


# Word starts that keep their hyphen at a line break when the rest is a word: "co-citation".
_PREFIXES = frozenset("co non self semi anti multi cross well".split())
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
_SENTENCE_END = re.compile(r"[.!?:][\"'”’)\]]*$")


_SIZE_TOLERANCE = 0.15  # body type this much larger or smaller is other prose
_OCR_SIZE_TOLERANCE = 0.3


def _from_layout(raw: RawDocument, layout: list[LayoutPage]) -> Document:
    """Labelled PDF blocks -> one text. Body paragraphs broken by a column or page run on;
    captions, footnotes and the like met inside such a paragraph wait until it ends, so
    no quoted sentence has one spliced into it."""
    vocabulary = _vocabulary([b.text for page in layout for b in page.blocks])
    out = _TextBuilder()
    pending: list[tuple[str, str, int]] = []  # (kind, text, page) waiting for a sentence end
    open_body = False  # the last body paragraph stops mid-sentence
    open_size = 0.0  # its type size
    open_page = 0  # the page it last grew on
    for page in layout:
        if (
            open_body
            and page.number - open_page >= 2
            and any(kind == "body" and number > open_page for kind, _, number in pending)
        ):
            # A sentence left open across a page of other prose was a misread end (OCR's
            # lost full stop), not one sentence (a full-page table between its halves is
            # no such page): what waited for it is written out now.
            for kind, held, number in pending:
                out.paragraph(held, kind, number)
            pending.clear()
            open_body = False
        # Tesseract's type sizes, from ink heights, vary more than a text layer's.
        same_type = _OCR_SIZE_TOLERANCE if page.ocr else _SIZE_TOLERANCE
        out.pages.append(
            PageSpan(
                page=page.number,
                start=out.length + (1 if open_body else 0),
                label=page.label,
                ocr=page.ocr,
                ocr_confidence=page.confidence,
            )
        )
        for block in page.blocks:
            text = _block_text(block.text, vocabulary)
            if not text:
                continue
            if block.kind == "body":
                if open_body and abs(block.size - open_size) > same_type * open_size:
                    # Prose in other type (a standfirst, a pull quote) is not the sentence's
                    # continuation: it waits, like a caption, for the sentence to end.
                    pending.append(("body", text, page.number))
                    continue
                if open_body:
                    out.extend(text, vocabulary)
                else:
                    out.paragraph(text, "body", page.number)
                    open_size = block.size
                open_body, open_page = not _SENTENCE_END.search(text), page.number
                if not open_body:
                    for kind, held, number in pending:
                        out.paragraph(held, kind, number)
                    pending.clear()
            elif block.kind == "heading":
                for kind, held, number in pending:
                    out.paragraph(held, kind, number)
                pending.clear()
                open_body = False
                start = out.paragraph(text, "heading", page.number)
                title = text[len(block.number) :].lstrip(". ") if block.number else text
                out.sections.append(
                    SectionSpan(
                        start=start,
                        end=start + len(text),
                        number=block.number,
                        title=title,
                        level=block.level,
                    )
                )
            elif open_body:
                pending.append((block.kind or "body", text, page.number))
            else:
                out.paragraph(text, block.kind or "body", page.number)
    for kind, held, number in pending:
        out.paragraph(held, kind, number)
    return Document(
        doc_id=raw.doc_id,
        title=raw.title,
        source=raw.source,
        content_hash=raw.content_hash,
        text=out.text(),
        pages=out.pages,
        sections=out.sections,
        elements=[e for e in out.elements if e.kind != "body"],
        warnings=list(raw.warnings),
    )


class _TextBuilder:
    """Paragraphs joined by blank lines, with each one's kind and offsets recorded."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pages: list[PageSpan] = []
        self.sections: list[SectionSpan] = []
        self.elements: list[Element] = []

    def paragraph(self, text: str, kind: str, page: int) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        self.elements.append(Element(kind=kind, start=start, end=self.length, page=page))  # type: ignore[arg-type]
        return start

    def extend(self, text: str, vocabulary: Counter[str]) -> None:
        """Run a paragraph on across a column or page break."""
        last = self.parts[-1]
        if last.endswith("-") and text[:1].islower():
            joined = _resolve_hyphens(last + "\x00" + text, vocabulary)
            self.parts[-1] = joined
            self.length += len(joined) - len(last)
        else:
            self.parts[-1] = last + " " + text
            self.length += 1 + len(text)
        self.elements[-1].end = self.length

    def text(self) -> str:
        return "".join(self.parts)


def _vocabulary(texts: list[str]) -> Counter[str]:
    words: Counter[str] = Counter()
    for t in texts:
        for m in re.finditer(r"(?<![\w\x00-])[^\W\d_]+(?:-[^\W\d_]+)*(?![\w\x00])", t):
            if not t[m.end() : m.end() + 1] == "-":
                words[m.group().lower()] += 1
    return words


def _resolve_hyphens(text: str, vocabulary: Counter[str]) -> str:
    """A hyphen at a line end is a syllable break unless the document (or the words on
    both sides) says it is part of a compound: "document-level", "co-citation"."""

    def fix(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        joined, hyphened = (left + right).lower(), f"{left}-{right}".lower()
        if vocabulary[joined]:
            return left + right
        if vocabulary[hyphened]:
            return f"{left}-{right}"
        first_ok = vocabulary[left.lower()] > 0 or left.lower() in _PREFIXES
        if len(left) >= 2 and first_ok and vocabulary[right.lower()] > 0:
            return f"{left}-{right}"
        return left + right

    text = re.sub(r"([^\W\d_]+)-\x00([^\W\d_]+)", fix, text)
    return text.replace("-\x00", "-").replace("\x00", "")


def _block_text(text: str, vocabulary: Counter[str]) -> str:
    # NFC, not NFKC: NFKC would turn the exponent in "10⁻¹¹" into "10-11".
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    text = text.replace("\u00ad", "").replace("\u00a0", " ")
    text = _resolve_hyphens(text, vocabulary)
    return " ".join(text.split())
