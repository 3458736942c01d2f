"""Raw pages -> one clean Document: page furniture removed, words re-joined, headings marked.

The cleaned text is what chunks, offsets and quotes refer to. Headings are put in
paragraphs of their own so that no quoted sentence starts with a heading.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from index.loaders import RawDocument
from index.models import Document, PageSpan, SectionSpan
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
