"""Characters -> printed lines: word spaces, super- and subscripts, accents drawn apart.

Both readers of a PDF page end here: the text layer (PDFium's characters, text_layer) and
OCR (Tesseract's words, ocr) give characters with boxes in PDF points, and the layout
(layout) reads the lines these make.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Box", "Char", "Line", "RawPage", "build_line", "group_lines", "in_margin"]

_SUPERSCRIPT = str.maketrans("0123456789+-−=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿ")
_SUBSCRIPT = str.maketrans("0123456789+-−=()", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎")
# Spacing accents that PDFs draw as separate glyphs over a letter ("˚A" for Å).
_COMBINING = {"˚": "\u030a", "¨": "\u0308", "´": "\u0301", "`": "\u0300", "ˆ": "\u0302",
              "˜": "\u0303", "ˇ": "\u030c", "¸": "\u0327", "˝": "\u030b", "˙": "\u0307",
              "¯": "\u0304", "˘": "\u0306", "˛": "\u0328"}  # fmt: skip
_WORD_GAP = 0.1  # em


@dataclass
class Char:
    text: str
    x0: float
    x1: float
    bottom: float  # PDF coordinates: y grows upwards
    top: float
    size: float
    bold: bool
    index: int  # PDFium's character index, for highlighting a quote later
    font: str = ""
    turned: bool = False  # set sideways; its coordinates are in its own frame
    spaced: bool = False  # PDFium saw a word break before it


@dataclass
class Line:
    chars: list[Char]
    text: str = ""
    index: list[int] = field(default_factory=list)  # PDFium index per character of text
    size: float = 0.0
    bold: float = 0.0  # share of bold characters
    x0: float = 0.0
    x1: float = 0.0
    top: float = 0.0
    bottom: float = 0.0
    cells: int = 1  # runs separated by wide gaps (table rows have several)
    font: str = ""
    turned: bool = False


# (left, bottom, right, top) in PDF points of the page as stored (y grows upwards).
Box = tuple[float, float, float, float]


class RawPage(NamedTuple):
    lines: list[Line]
    width: float
    height: float
    stamped: str | None = None  # a page number printed inside a stamped form, not the text
    ocr: bool = False  # the lines come from Tesseract, not the text layer
    confidence: float | None = None  # OCR: mean word confidence, 0-1
    boxes: list[Box] | None = None  # OCR: each character's box on the page, by Char.index
    problem: str | None = None  # why OCR gave nothing (Tesseract failed, missing, ...)


def group_lines(chars: list[Char]) -> list[Line]:
    """Group characters (in content order) into lines where the baseline or column breaks."""
    lines: list[list[Char]] = []
    current: list[Char] = []
    base: float | None = None
    row_size = 0.0  # the size of the characters the baseline comes from
    for c in chars:
        if c.text == " " and not current:
            continue
        if current and base is not None:
            # An accent kept out of place (below) is not where the line's text has got to.
            prev = next((x for x in reversed(current) if x.text not in _COMBINING), current[-1])
            h = max(c.size, prev.size, 1.0)
            mid = (c.bottom + c.top) / 2
            # Measured by the row's type, not the superscript before: "Lys⁴⁸⁹" stays one line.
            hr = max(h, row_size) if c.size < 0.85 * row_size else h
            same_row = base - 0.6 * hr < mid < base + 1.0 * hr or c.text == " "
            back = c.x0 < prev.x0 - 2 * h  # a jump back to the left: a new line
            if back and same_row and c.text in _COMBINING:
                # An accent drawn after its line ("A in complex with compound" ... "˚"):
                # it stays, and _attach_accents puts it on the letter under it.
                span = (min(x.x0 for x in current), max(x.x1 for x in current))
                back = not span[0] <= (c.x0 + c.x1) / 2 <= span[1]
            if not same_row or back:
                lines.append(current)
                current, base, row_size = [], None, 0.0
        if c.text == " " and not current:
            continue
        current.append(c)
        if c.text != " " and (base is None or c.size >= 0.9 * current[0].size):
            base = c.bottom if base is None else min(base, c.bottom) if c.size > 0 else base
            row_size = max(row_size, c.size)
    if current:
        lines.append(current)
    built = [build_line(cs) for cs in lines if any(ch.text.strip() for ch in cs)]
    built = [ln for ln in built if ln.text]
    return _merge_scripts(built)


def _merge_scripts(lines: list[Line]) -> list[Line]:
    """Super- and subscripts that the content stream draws apart ("10⁻" ... "11") rejoin
    the line they sit on."""
    out: list[Line] = []
    small = [ln for ln in lines if len(ln.text.strip()) <= 6]
    for t in small:
        if not set(t.text.strip()) <= set(_COMBINING):
            continue
        for ln in lines:  # an accent on a line of its own: the letter below it is its own
            if ln is t or not any(min(c.x1, t.x1) > max(c.x0, t.x0) for c in ln.chars):
                continue
            if ln.bottom - 0.2 * ln.size < t.bottom < ln.top + 0.8 * ln.size:
                ln.__dict__.update(
                    build_line(sorted(ln.chars + t.chars, key=lambda c: c.x0)).__dict__
                )
                t.text = ""
                break
    lines = [ln for ln in lines if ln.text]
    small = [ln for ln in small if ln.text]
    merged: set[int] = set()
    for t in small:
        for ln in lines:
            if ln is t or id(ln) in merged or t.size >= 0.85 * ln.size:
                continue
            beside = ln.x0 - 0.5 * ln.size <= t.x0 <= ln.x1 + 0.5 * ln.size
            level = ln.bottom - 0.5 * ln.size < t.bottom < ln.bottom + 0.8 * ln.size
            if beside and level:
                chars = sorted(ln.chars + t.chars, key=lambda c: c.x0)
                rebuilt = build_line(chars)
                ln.__dict__.update(rebuilt.__dict__)
                merged.add(id(t))
                break
    out = [ln for ln in lines if id(ln) not in merged]
    return out


def _attach_accents(chars: list[Char]) -> list[Char]:
    """An accent drawn as its own glyph joins the letter under it, wherever the content
    stream put it ("Erdo" ... "˝" -> "Erdős", "˚A" -> "Å")."""
    accents = [c for c in chars if c.text in _COMBINING]
    if not accents:
        return chars
    letters = [c for c in chars if c.text.isalpha()]
    for accent in accents:

        def overlap(c: Char, a: Char = accent) -> float:
            return min(c.x1, a.x1) - max(c.x0, a.x0)

        under = max(letters, key=overlap, default=None)
        if under is not None and overlap(under) > 0.3 * (accent.x1 - accent.x0):
            under.text = unicodedata.normalize("NFC", under.text + _COMBINING[accent.text])
            accent.text = ""
    return [c for c in chars if c.text]


def build_line(chars: list[Char]) -> Line:
    chars = _attach_accents([c for c in chars if c.text])
    visible = [c for c in chars if c.text != " "]
    if not visible:
        return Line(chars=[])  # only accents, all given to their letters
    sizes = Counter(round(c.size, 1) for c in visible)
    size = sizes.most_common(1)[0][0]
    body = [c for c in visible if c.size >= 0.85 * size]
    baseline = statistics.median(c.bottom for c in body) if body else visible[0].bottom
    # A gap of a tenth of an em between two glyphs is a word space: small caps are tracked
    # up to 0.06 em (SPECTER's "SPECTER"), word spaces squeezed by justification stay above.
    word_gap = _WORD_GAP * size
    out: list[str] = []
    index: list[int] = []
    cells = 1
    prev: Char | None = None
    script = ""  # "sup" or "sub" while inside a run of smaller raised/lowered characters
    for c in chars:
        if c.text == " ":
            if out and out[-1] != " ":
                out.append(" ")
                index.append(c.index)
            continue
        small = c.size < 0.85 * size
        kind = ""
        if small and c.bottom > baseline + 0.2 * size:
            kind = "sup"
        elif small and c.bottom < baseline - 0.1 * size:
            kind = "sub"
        if prev is not None:
            gap = c.x0 - prev.x1
            if gap > 1.5 * size and out and out[-1] != " ":
                cells += 1
            wide = gap > word_gap * min(1.0, max(c.size, prev.size) / size)
            if (wide or (c.spaced and gap > 0.03 * size)) and out and out[-1] != " ":
                if not (kind and kind == script) and not (
                    c.text in _COMBINING or prev.text in _COMBINING
                ):
                    out.append(" ")
                    index.append(-1)
        text = c.text
        if kind == "sup":
            text = _superscript(text, out)
        elif kind == "sub":
            text = text.translate(_SUBSCRIPT)
        script = kind
        out.append(text)
        index.extend([c.index] * len(text))
        prev = c
    text, index = _fix_symbols("".join(out), index)
    xs = [c.x0 for c in visible]
    return Line(
        chars=chars,
        text=text,
        index=index,
        size=size,
        bold=sum(c.bold for c in visible) / len(visible),
        x0=min(xs),
        x1=max(c.x1 for c in visible),
        top=max(c.top for c in visible),
        bottom=baseline,
        cells=cells,
        font=Counter(c.font for c in visible).most_common(1)[0][0],
        turned=visible[0].turned,
    )


# Residue numbers set as superscripts ("Tyr⁴⁹⁸") are part of the name, not a citation.
_RESIDUE = re.compile(
    r"\b(?:Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val)\d*$"
)


def _superscript(text: str, out: list[str]) -> str:
    if text.isdigit() and _RESIDUE.search("".join(out[-8:])):
        return text
    before = "".join(out[-3:]).rstrip()
    if (text in "◦∘o°" and before[-1:].isdigit()) or text in "◦∘°":
        return "°"
    if before[-1:].isdigit() or before[-1:] in ")]⁰¹²³⁴⁵⁶⁷⁸⁹⁻" or text in "-−+":
        return text.translate(_SUPERSCRIPT)
    if text.isdigit() or text in ",*†‡§¶#–-":
        return ""  # a footnote or citation marker: noise inside a quoted sentence
    return text


def _fix_symbols(text: str, index: list[int]) -> tuple[str, list[int]]:
    """Accents drawn apart, degree rings, ± drawn as +−; control and private-use out."""
    chars = list(text)
    idx = list(index)
    i = 0
    while i < len(chars):
        ch = chars[i]
        cat = unicodedata.category(ch) if len(ch) == 1 else ""
        if cat in ("Cc", "Co", "Cs", "Cn") or ch in "\ufffd\ufeff":
            del chars[i], idx[i]
            continue
        if ch in _COMBINING:
            # An accent glyph joins the letter it sits on (before or after it).
            target = i + 1 if i + 1 < len(chars) and chars[i + 1].isalpha() else i - 1
            if 0 <= target < len(chars) and chars[target].isalpha() and not chars[target].isascii():
                del chars[i], idx[i]  # a stray copy of an accent the letter already carries
                continue
            if 0 <= target < len(chars) and chars[target].isalpha():
                merged = unicodedata.normalize("NFC", chars[target] + _COMBINING[ch])
                chars[target] = merged
                del chars[i], idx[i]
                continue
        if ch in "◦∘" and i + 1 < len(chars) and chars[i + 1] in "CF":
            chars[i] = "°"
        if ch == "+" and i + 1 < len(chars) and chars[i + 1] in "−-" and i > 0:
            chars[i] = "±"
            del chars[i + 1], idx[i + 1]
        i += 1
    return "".join(chars), idx


def in_margin(line: Line, height: float) -> bool:
    if line.turned:
        return False  # a sideways table's lines are not the page's running heads
    return line.top > height * 0.91 or line.bottom < height * 0.08
