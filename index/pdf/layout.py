"""Lines of PDF pages -> labelled blocks (body, heading, caption, table, footnote, reference,
front), read as a typesetter laid them out:
- running heads, page numbers and manuscript line numbers from their place on the page;
- headings from font size, weight and shape; captions from "Figure n"/"Table n" openings;
  footnotes and front matter from small type and their cues; references after their heading.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from index.models import ElementKind
from index.pdf.lines import Box, Line, RawPage, in_margin

__all__ = ["Block", "LayoutPage", "label_pages", "needs_ocr"]

_CAPTION = re.compile(
    r"^(?:Supplementary\s+|Extended\s+Data\s+|Appendix\s+)?"
    r"(?:Figure|Fig\.|FIGURE|FIG\.|Table|TABLE|Scheme|Box|Chart)\s*S?\d+[A-Za-z]?\b"
    # A caption's label is followed by punctuation or its title, not by a verb in lower
    # case: "Table 2: Results ..." is a caption, "Table 2 shows ..." is body text.
    r"(?=\s*[.:|—–(-]|\s+[A-Z\d]|\s*$)"
)
_FRONT_CUES = re.compile(
    r"\S+@\S+\.\w+|©|\bcopyright\b|\blicen[cs]ee?\b|creative\s*commons|\bopen\s*access\b"
    r"|\b(?:received|accepted|published|revised)\s*:?\s*\d|\bcorrespondence\b|\bdoi\s*:"
    r"|\bkeywords?\s*:|\bauthor information\b|\bcitation\s*:|\bediting by\b|\bISSN\b",
    re.I,
)
_REFERENCE_HEADING = re.compile(
    r"^(?:\d+\.?\s*)?(?:references?(?:\s+and\s+notes)?|bibliography|literature\s+cited|"
    r"works\s+cited|cited\s+literature)$",
    re.I,
)
_CANONICAL = re.compile(
    r"(?i)^(?:abstract|summary|background|introduction|(?:materials\s+and\s+)?methods?|"
    r"methodology|results(?:\s+and\s+discussion)?|discussion|conclusions?|"
    r"acknowledge?ments?|references|bibliography|competing\s+interests?|"
    r"conflicts?\s+of\s+interests?|authors?[’']?\s+contributions?|author\s+details|funding|"
    r"declarations|abbreviations|additional\s+files?|supplementary\s+(?:files|material|"
    r"information)|figure\s+legends|tables|data\s+availability|ethics.*|limitations)\s*:?$"
)
_NUMBERED = re.compile(r"^((?:\d{1,2}\.){0,3}\d{1,2})\.?\s+(\S.*)$")
_ROMAN = re.compile(r"^([IVX]{1,4})\.\s+(\S.*)$")
_WORDLIKE = re.compile(
    r"^[(\[\"'“‘]*(?:[A-Za-z][a-z]+(?:[-_][A-Za-z]+)*|[A-Z]{2,}s?|[A-Za-z]+[A-Z][a-z]+|"
    r"[A-Za-z]+_[A-Za-z_]+|[-−+±]?\d*[.,]?\d+%?)[,.;:)\]\"'”’]*$"
)
# Symbols inside a token, between letters or digits: ")5+]FRQWUDíLSVL6*" from a broken font.
_GARBLED = re.compile(r"[A-Za-z0-9][^\w\s.,;:'’\-−/%=×·]+[A-Za-z0-9]")
_MAX_HEADING_WORDS = 18


@dataclass
class Block:
    """A paragraph-like run of lines, with what it is."""

    kind: ElementKind | None
    text: str
    index: list[int]  # PDFium character index per character of text (-1: inserted)
    size: float = 0.0
    bold: float = 0.0
    lines: int = 1
    level: int = 1
    number: str | None = None
    x0: float = 0.0
    top: float = 0.0
    font: str = ""
    tabular: float = 0.0  # share of lines with three or more wide-gapped cells

    @property
    def style(self) -> tuple[float, bool, bool, str]:
        letters = re.sub(r"[^A-Za-z]", "", self.text)
        return (round(self.size, 1), self.bold > 0.7, letters.isupper(), self.font)

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class LayoutPage:
    number: int  # 1-based
    blocks: list[Block]
    label: str | None = None
    problem: str | None = None  # why the page is not indexed as text (a figure, garbage)
    ocr: bool = False  # read by Tesseract from the page's image
    confidence: float | None = None  # OCR: mean word confidence, 0-1
    boxes: list[Box] | None = None  # OCR: each character's box, by Block.index


def label_pages(raw_pages: list[RawPage]) -> tuple[list[LayoutPage], str | None]:
    all_lines = [ln for page in raw_pages for ln in page.lines]
    if not all_lines:
        pages = [
            LayoutPage(i + 1, [], problem=p.problem or _garbage([], ocr=p.ocr), ocr=p.ocr)
            for i, p in enumerate(raw_pages)
        ]
        return pages, None
    body_size = _body_size(all_lines)
    body_font = Counter(ln.font for ln in all_lines for _ in ln.text).most_common(1)[0][0]
    furniture = _repeated_edge_lines(raw_pages)
    pitch = _line_pitch(all_lines, body_size)
    pages: list[LayoutPage] = []
    title: str | None = None
    for number, raw in enumerate(raw_pages, start=1):
        running = furniture + ([set(_key(title).split())] if title else [])
        # Line numbers first: a scan's margin number stands alone, like a page number.
        lines = _strip_line_numbers(raw.lines, body_size)
        lines, label = _strip_edges(lines, raw.height, body_size, running)
        page = LayoutPage(
            number, [], label=label, ocr=raw.ocr, confidence=raw.confidence, boxes=raw.boxes
        )
        problem = raw.problem or _garbage(lines, ocr=raw.ocr)
        if problem:
            page.problem = problem
        else:
            page.blocks = _blocks(lines, body_size, pitch)
            if number == 1:
                title = _take_title(page.blocks, body_size, raw.height)
        pages.append(page)
    _mark_sparse_pages(pages)
    for page in pages:
        if page.label and page.label.startswith("?"):
            # On a figure page, a number inside it is an axis tick and "Figure 3" a legend.
            page.label = None if page.problem else page.label[1:]
    _classify(pages, body_size, body_font)
    _fix_labels(pages)
    for page, raw_page in zip(pages, raw_pages, strict=True):
        # After the sequence check: an excerpt's first page (1, then 9, 10, 11) is printed so.
        if page.label is None and not page.problem and raw_page.stamped:
            page.label = raw_page.stamped
    return pages, title


def _fix_labels(pages: list[LayoutPage]) -> None:
    """A label that breaks the document's numbering (a misread digit) takes the sequence's."""
    offsets = Counter(
        int(p.label) - p.number for p in pages if p.label and p.label.isdigit()
    ).most_common(1)
    if not offsets or offsets[0][1] < max(2, len(pages) // 3):
        return
    offset = offsets[0][0]
    for p in pages:
        if p.label and re.fullmatch(r"\d+|[ivxlc]+", p.label) and p.label != str(p.number + offset):
            p.label = str(p.number + offset)


def _body_size(lines: list[Line]) -> float:
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size, 1)] += len(ln.text)
    return sizes.most_common(1)[0][0]


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _repeated_edge_lines(raw_pages: list[RawPage]) -> list[set[str]]:
    """Word sets (digits folded) of lines near a page's top or bottom seen on 2+ pages."""
    per_page = [
        [set(_key(ln.text).split()) for ln in page.lines if in_margin(ln, page.height)]
        for page in raw_pages
    ]
    repeated: list[set[str]] = []
    for i, words in enumerate(per_page):
        for w in words:
            others = sum(
                any(_similar(w, v) for v in page) for j, page in enumerate(per_page) if j != i
            )
            if others >= 1 and w - {"#"}:
                repeated.append(w)
    return repeated


def _similar(a: set[str], b: set[str]) -> bool:
    # Running heads differ by a page number or a "Page n of m": compare word sets.
    return len(a & b) >= 0.6 * max(len(a), len(b))


def _carries_title(words: set[str], title: set[str]) -> bool:
    return len(title) >= 2 and title <= words


_LABEL_PATTERNS = (
    re.compile(r"^(?:page\s+)?(\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d+)?$", re.I),
    re.compile(r"\bpage\s+(\d{1,4})\s+of\s+\d+\b", re.I),
    re.compile(r"(?:^|\s)(\d{1,4})\s*/\s*\d{1,4}$"),
    re.compile(r"(?:^|\s)(\d{1,4})\s+of\s+\d{1,4}$", re.I),
    re.compile(r"(?:^|\s)(\d{1,4})$"),
    re.compile(r"^(\d{1,4})\s"),
)


def _strip_edges(
    lines: list[Line], height: float, body: float, furniture: list[set[str]]
) -> tuple[list[Line], str | None]:
    """Running heads, footers and page numbers out; the printed page number kept as label."""
    label: str | None = None
    inside = False  # not a bare number in the margin: a label only if the page is text
    kept: list[Line] = []
    by_height = sorted(lines, key=lambda ln: ln.bottom)
    extremes = {id(ln) for ln in by_height[:2] + by_height[-2:]}
    for ln in lines:
        text = ln.text.strip()
        if in_margin(ln, height) or id(ln) in extremes:
            bare = _LABEL_PATTERNS[0].fullmatch(text)
            words = set(_key(text).split())
            if bare or any(_similar(words, f) or _carries_title(words, f) for f in furniture):
                for pattern in _LABEL_PATTERNS if not bare else ():
                    m = pattern.search(text)
                    if m and not re.fullmatch(r"(?:19|20)\d\d", m.group(1)):
                        label = label or m.group(1)
                        break
                label = label or (bare.group(1) if bare else None)
                if label and not (bare and in_margin(ln, height)):
                    inside = True
                continue
        kept.append(ln)
    return kept, (label if not inside else f"?{label}")


def _strip_line_numbers(lines: list[Line], body: float) -> list[Line]:
    """Manuscript line numbers: a number in a margin column before (or after) each line."""
    candidates: list[tuple[Line, int, float]] = []
    for ln in lines:
        m = re.match(r"^(\d{1,4}) ", ln.text)
        first = [c for c in ln.chars if c.text != " "]
        if m:
            n = len(m.group(1))
            rest = first[n:] if len(first) > n else []
            gap = (rest[0].x0 - first[n - 1].x1) if rest else body * 3
            if gap > 0.9 * body:
                candidates.append((ln, n, first[0].x0))
        elif re.fullmatch(r"\d{1,4}", ln.text.strip()):
            candidates.append((ln, len(ln.text.strip()), first[0].x0))
    if len(candidates) < 5 or len(candidates) < 0.3 * len(lines):
        return lines
    column = statistics.median(x for _, _, x in candidates)
    numbers = [int(ln.text.split()[0]) for ln, _, _ in candidates]
    rising = sum(b > a for a, b in itertools.pairwise(numbers))
    if rising < 0.7 * (len(numbers) - 1):
        return lines
    out: list[Line] = []
    strip = {id(ln): n for ln, n, x in candidates if abs(x - column) < 2 * body}
    for ln in lines:
        n = strip.get(id(ln))
        if n is None:
            out.append(ln)
            continue
        cut = n
        while cut < len(ln.text) and ln.text[cut] == " ":
            cut += 1
        if cut >= len(ln.text):
            continue
        ln.text, ln.index = ln.text[cut:], ln.index[cut:]
        kept = set(ln.index)
        ln.chars = [c for c in ln.chars if c.index in kept]
        visible = [c for c in ln.chars if c.text != " "] or ln.chars
        ln.x0 = min(c.x0 for c in visible)
        ln.bold = sum(c.bold for c in visible) / len(visible)
        ln.font = Counter(c.font for c in visible).most_common(1)[0][0]
        out.append(ln)
    return out


def needs_ocr(lines: list[Line]) -> bool:
    """Whether a page's text layer is missing or garbage: what OCR is for in auto mode."""
    problem = _garbage(lines)
    return problem is not None and not problem.endswith("(short labels only)")


def _garbage(lines: list[Line], *, ocr: bool = False) -> str | None:
    """Why a page is not text: too little of it reads as words (a figure, a broken font)."""
    tokens = [t for ln in lines for t in ln.text.split()]
    if not tokens and ocr:
        return "has no text that OCR could read (a blank page or a picture?)"
    if not tokens:
        return "has no extractable text (scanned image?)"
    wordlike = sum(bool(_WORDLIKE.match(t)) for t in tokens) / len(tokens)
    garbled = sum(bool(_GARBLED.search(t)) for t in tokens) / len(tokens)
    letters = sum(len(t) for t in tokens)
    # Tables of codes and numbers read few words but little junk; a bad font map reads junk.
    if garbled > 0.15 or wordlike < 0.2:
        return f"looks like a figure or garbled text ({garbled:.0%} of its tokens are garbled)"
    if letters < 250 and len(lines) > 8 and wordlike < 0.7:
        return "looks like a figure (short labels only)"
    return None


def _line_pitch(lines: list[Line], body: float) -> float:
    """The usual baseline-to-baseline distance of body text (double spacing doubles it)."""
    pitches: Counter[float] = Counter()
    for a, b in itertools.pairwise(lines):
        if abs(a.size - body) < 0.1 * body and abs(b.size - body) < 0.1 * body:
            d = a.bottom - b.bottom
            if 0.8 * body < d < 3.5 * body:
                pitches[round(d, 0)] += 1
    return pitches.most_common(1)[0][0] if pitches else 1.2 * body


def _blocks(lines: list[Line], body: float, pitch: float) -> list[Block]:
    blocks: list[list[Line]] = []
    for ln in lines:
        if blocks and _continues_block(blocks[-1], ln, pitch):
            blocks[-1].append(ln)
        else:
            blocks.append([ln])
    out = [_join_block(b) for b in blocks]
    for i in range(len(out) - 1):
        cap, rest = out[i], out[i + 1]
        # A drop cap: one or two huge letters, then the paragraph they begin ("So" + "me").
        if cap.words == 1 and len(cap.text) <= 3 and cap.size > 2.5 * rest.size:
            if rest.text[:1].islower():
                rest.text, rest.index = cap.text + rest.text, cap.index + rest.index
                cap.text, cap.index = "", []
    return [b for b in out if b.text]


def _continues_block(block: list[Line], ln: Line, pitch: float) -> bool:
    prev = block[-1]
    size = max(prev.size, ln.size)
    step = prev.bottom - ln.bottom  # baseline to baseline
    usual = max(pitch * size / max(prev.size, 1.0), 1.05 * size)
    if step < 0.5 * size or step > usual + 0.45 * size:  # up the page (a column), or a blank
        return False
    if (
        len(block) == 1
        and prev.font != ln.font
        and len(prev.text.split()) <= 12
        and (prev.x1 - prev.x0) < 0.75 * (ln.x1 - ln.x0)
        and not prev.text.rstrip().endswith((".", ",", ";"))
    ):
        return False  # a short line in its own type over a paragraph: a heading
    if abs(prev.size - ln.size) > 0.12 * size:
        return False
    if (prev.bold > 0.7) != (ln.bold > 0.7) and (all(x.bold > 0.7 for x in block) or ln.bold > 0.7):
        return False  # a bold heading starts or ends
    if prev.bold > 0.7 and ln.bold > 0.7 and (prev.x1 - prev.x0) < 0.6 * (ln.x1 - ln.x0):
        return False  # a short bold line over a longer one: two headings, not one wrapped
    if abs(ln.x0 - prev.x0) > 12 * size:
        return False
    if (prev.cells >= 3) != (ln.cells >= 3):
        return False  # a table row (cells apart) next to a line of prose
    if _CAPTION.match(ln.text) and ln.x0 <= prev.x0 + size:
        return False
    return True


def _join_block(lines: list[Line]) -> Block:
    text = ""
    index: list[int] = []
    for ln in lines:
        if text:
            if (
                text.endswith("-")
                and len(text) > 1
                and text[-2].isalpha()
                and ln.text[:1].isalpha()
            ):
                text += "\x00"  # a line-end hyphen: resolved once the whole document is known
                index.append(-1)
            elif text.endswith(("–", "—")) and ln.text[:1].isalpha():
                pass  # a dash closes up to the next word ("mention–mention", "school—and")
            else:
                text += " "
                index.append(-1)
        text += ln.text
        index += ln.index
    return Block(
        kind=None,
        text=text,
        index=index,
        size=statistics.median(ln.size for ln in lines),
        bold=sum(ln.bold * len(ln.text) for ln in lines)
        / max(1, sum(len(ln.text) for ln in lines)),
        lines=len(lines),
        x0=min(ln.x0 for ln in lines),
        top=lines[0].top,
        font=Counter(ln.font for ln in lines).most_common(1)[0][0],
        tabular=sum(ln.cells >= 3 for ln in lines) / len(lines),
    )


def _take_title(blocks: list[Block], body: float, height: float) -> str | None:
    """The first page's largest type in its upper half, when clearly larger than body text."""
    upper = [b for b in blocks if b.top > height * 0.4 and b.words >= 3]
    if not upper:
        return None
    best = max(upper, key=lambda b: b.size)
    if best.size < 1.25 * body:
        return None
    best.kind = "front"
    for b in blocks[: blocks.index(best)]:
        if b.top >= best.top and b.words < 30:
            b.kind = "front"  # banners and journal lines above the title
    title = " ".join(best.text.replace("\x00", "").split())
    return re.sub(r"^title\s*:\s*", "", title, flags=re.I)


def _mark_sparse_pages(pages: list[LayoutPage]) -> None:
    """A page with no prose holds a figure (a drawing's labels: not indexed, reported) or,
    with many words or a table caption, a table (kept as such)."""
    for page in pages:
        if not page.blocks:
            continue
        prose = any(_is_prose(b.text) for b in page.blocks)
        words = sum(b.words for b in page.blocks)
        captioned = any(re.match(r"(?i)table\s*S?\d", b.text) for b in page.blocks)
        short = [b for b in page.blocks if b.words <= 5 and b.kind is None]
        scattered = len(short) >= 20 and len(short) >= 0.6 * len(page.blocks)
        if (
            not captioned
            and page.number > 1
            and ((not prose and words < 100) or (scattered and words < 250))
        ):
            page.problem = "looks like a figure (labels only, no prose)"
            page.blocks = []
            continue
        if scattered:
            for b in short:
                b.kind = "table"


def _is_prose(text: str) -> bool:
    """A sentence: some lower-case words and a full stop (figure labels have neither)."""
    words = text.split()
    lower = sum(w[:1].islower() for w in words)
    ends = re.findall(r"(\S+?)[.!?][\"'”’)\]]*(?=\s|$)", text)
    # "Contra." and "Ipsi." in a legend are abbreviations; a sentence ends on a lower-case word.
    return len(words) >= 5 and lower >= 3 and any(e[:1].islower() for e in ends)


def _classify(pages: list[LayoutPage], body: float, body_font: str) -> None:
    """Give every block its kind; headings get their number and outline level."""
    in_references = False
    heading_styles: set[tuple[float, bool, bool, str]] = set()
    table_mode = False
    front_page = True  # page 1 until its first heading or paragraph of prose
    for page in pages:
        front_page = front_page and page.number == 1
        for i, b in enumerate(page.blocks):
            if b.kind is not None:
                continue
            text = b.text.replace("\x00", "").strip()
            style = b.style
            after = page.blocks[i + 1] if i + 1 < len(page.blocks) else None
            if _CAPTION.match(text):
                b.kind = "caption"
                table_mode = bool(re.match(r"(?i)table", text))
                continue
            if in_references and (style not in heading_styles or _looks_like_reference(text)):
                b.kind = "reference"
                continue
            if table_mode and b.size < 0.95 * body:
                b.kind = "table"  # a table's header cells are not section headings
                continue
            if _is_heading(b, body, body_font, after) and not (
                front_page and not _opens_article(text)
            ):
                b.kind = "heading"
                front_page = table_mode = False
                heading_styles.add(style)
                m = _NUMBERED.match(text) or _ROMAN.match(text)
                if m and not _REFERENCE_HEADING.match(text):
                    b.number = m.group(1)
                    b.level = m.group(1).count(".") + 1 if m.re is _NUMBERED else 1
                else:
                    b.level = 0  # filled in below, from the styles seen
                in_references = bool(_REFERENCE_HEADING.match(text))
                continue
            if re.match(r"(?i)(references|bibliography)\s+(\[?1\]?\.?\s)", text):
                b.kind, in_references = "reference", True  # a run-in "References 1. ..."
                continue
            long_prose = b.size >= 0.95 * body and (
                b.words >= 40 or (b.words >= 15 and text.endswith(".") and ". " in text + " ")
            )
            if (table_mode and not long_prose) or (b.tabular >= 0.5 and b.lines >= 2):
                b.kind = "table"
            elif _FRONT_CUES.search(text) and (b.size < 0.95 * body or b.words < 80):
                b.kind = "front"
            elif front_page and not long_prose:
                b.kind = "front"
            elif b.size < 0.9 * body:
                b.kind = "footnote"
            elif b.words <= 8 and not any(w[:1].islower() for w in text.split()):
                b.kind = "table"  # a row of labels ("Field Precision Recall F1"), not prose
            else:
                b.kind = "body"
                table_mode = front_page = False
    _levels(pages)


def _opens_article(text: str) -> bool:
    """A heading that can end the front matter of page 1 (not an author or journal line)."""
    return bool(
        _NUMBERED.match(text)
        or re.match(r"(?i)(abstract|summary|introduction|background|highlights)\b", text)
    )


def _looks_like_reference(text: str) -> bool:
    return bool(re.search(r"\b(?:19|20)\d\d[a-z]?\b", text)) or text.count(",") >= 3


def _levels(pages: list[LayoutPage]) -> None:
    """Unnumbered headings take the level numbered ones of their style have, else rank."""
    headings = [b for p in pages for b in p.blocks if b.kind == "heading"]
    numbered: dict[tuple[float, bool, bool, str], Counter[int]] = {}
    for b in headings:
        if b.number:
            numbered.setdefault(b.style, Counter())[b.level] += 1
    free = sorted(
        {b.style for b in headings if not b.number} - set(numbered),
        key=lambda st: (-st[0], not st[1], not st[2]),
    )
    for b in headings:
        if b.level:
            continue
        style = b.style
        if style in numbered:
            b.level = numbered[style].most_common(1)[0][0]
        else:
            b.level = 1 if numbered else free.index(style) + 1
    # Unnumbered papers name their top sections alike (Results, Discussion, References...):
    # a style used only for such names is top level; in a style shared with other headings,
    # those others sit one level under the named ones (bold "Results", then bold subheads).
    by_style: dict[tuple[float, bool, bool, str], list[Block]] = {}
    for b in headings:
        if not b.number:
            by_style.setdefault(b.style, []).append(b)
    for group in by_style.values():
        named = [_CANONICAL.match(b.text.replace("\x00", "").strip()) is not None for b in group]
        if all(named):
            for b in group:
                b.level = 1
        elif any(named) and group[0].level == 1:
            for b, is_named in zip(group, named, strict=True):
                if not is_named:
                    b.level = 2


def _is_heading(b: Block, body: float, body_font: str, after: Block | None = None) -> bool:
    text = b.text.replace("\x00", "").strip()
    if after is not None and after.size < 0.95 * body and after.words >= 8:
        # Back matter set small throughout: its headings are measured against its text.
        if b.font == after.font or b.words > 6 or b.lines > 1 or not text[:1].isalpha():
            return False
        body = after.size
    if b.lines > 3 or b.words > _MAX_HEADING_WORDS or not text or len(text) < 3:
        return False
    if text.endswith((".", ",", ";")) and not _NUMBERED.match(text):
        return False
    if not re.search(r"[A-Za-z]{2}", text) or text[0].islower():
        return False
    if re.search(r"\s[=<>≤≥≈]\s", text):
        return False  # a display equation's line ("L = max n d P"), whatever its type
    larger = b.size >= 1.12 * body
    bold = b.bold > 0.7 and b.size >= 0.9 * body
    caps = text.isupper() and b.words <= 8 and b.size >= 0.9 * body and len(text) > 4
    # A line of its own in another typeface: unbold run-in subheadings (BMC's "Setting").
    distinct = (
        b.lines == 1 and b.font != body_font and b.words <= 10 and b.size >= 0.85 * body
        and not text.endswith((".", ":")) and text[0].isupper()
        and (after is None or after.font != b.font)
    )  # fmt: skip
    return larger or bold or caps or distinct
