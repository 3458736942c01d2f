"""Section headings: numbered ones found inline in running text, and Markdown ones.

Extracted PDF text often puts a whole page on one line ("... effects. 4.2 Complexity and ...
mechanisms Castro-Manrreza and Montesinos (2015) mentioned ..."), so headings are found
by their numbering and shape, not by line starts. Numbers in running text are rejected by
three checks: a heading starts a sentence, its title has heading shape (no sentence end,
at most a dozen words), and its number continues the previous heading's numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Heading", "find_headings"]

_MAX_TITLE_WORDS = 14
_CONNECTORS = frozenset(
    "a an and as at by for from in into of on or the to vs versus via with without".split()
)
_NUMBER = re.compile(r"(?<![\w.,;:/()\[\]-])(\d{1,2}(?:\.\d{1,2}){0,3})\.?[ \t]+(?=[A-Z])")
_SENTENCE_END = re.compile(r"(^|[.!?:][\"')\]]?\s+|\n\s*)$")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(.+)$")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class Heading:
    start: int  # where the heading (number included) starts
    end: int  # where its title ends
    number: str | None
    title: str


def find_headings(text: str) -> list[Heading]:
    """Headings in document order; offsets index into `text`."""
    found = _markdown_headings(text) + _numbered_headings(text)
    found.sort(key=lambda h: h.start)
    return _drop_overlaps(found)


def _markdown_headings(text: str) -> list[Heading]:
    out = []
    for m in _MD_HEADING.finditer(text):
        title = m.group(2).strip()
        num = _MD_NUMBER.match(title)
        number, title = (num.group(1), num.group(2)) if num else (None, title)
        out.append(Heading(m.start(), m.end(), number, title))
    return out


def _numbered_headings(text: str) -> list[Heading]:
    out: list[Heading] = []
    prev: tuple[int, ...] | None = None
    for m in _NUMBER.finditer(text):
        before = text[max(0, m.start() - 3) : m.start()]
        # A bounded search, not a slice: copying the text since the last heading for
        # every candidate number made 8 MB take 10x longer than 4 MB.
        after_heading = bool(out) and not _NON_SPACE.search(text, out[-1].end, m.start())
        if not (_SENTENCE_END.search(before) or after_heading):
            continue
        number = tuple(int(x) for x in m.group(1).split("."))
        if not _continues(prev, number):
            continue
        title_end = _title_end(text, m.end())
        if title_end is None:
            continue
        title = text[m.end() : title_end].rstrip(" ,;:")
        out.append(Heading(m.start(), m.start() + len(m.group(0)) + len(title), m.group(1), title))
        prev = number
    return out


def _continues(prev: tuple[int, ...] | None, number: tuple[int, ...]) -> bool:
    """True when `number` can follow `prev` in an outline (a skipped heading is tolerated)."""
    if prev is None:
        return 0 < number[0] <= 30
    if number == (*prev, 1):
        return True
    for depth in range(min(len(prev), len(number)), 0, -1):
        if number[: depth - 1] == prev[: depth - 1] and len(number) == depth:
            return 1 <= number[depth - 1] - prev[depth - 1] <= 2
    return False


def _is_acronym(word: str) -> bool:
    # MSCs, TGF-β, IL-10, COVID-19: several capitals or a digit.
    return re.search(r"[A-Z]{2}|\d", word) is not None


def _title_end(text: str, start: int) -> int | None:
    """End offset of the heading title starting at `start`, or None if it is no heading."""
    words = list(re.finditer(r"\S+", text[start : start + 300]))
    title_case: bool | None = None
    last_cap: int | None = None  # index of the latest capitalised word (title case)
    for i, w in enumerate(words):
        token = w.group()
        core = token.strip(",;:()[]'\"")
        if i == _MAX_TITLE_WORDS + 1:
            return None
        if re.fullmatch(r"\d{1,2}(\.\d{1,2}){0,3}\.?", token) and i > 0:
            return start + words[i - 1].end()  # the next heading's number
        if i == 0:
            if token.endswith(".") and len(core) > 1:
                return None
            continue
        if token.endswith((".", "?", "!")) and not _is_acronym(core):
            return None if title_case is not True else start + words[last_cap or 0].start()
        if not core or core in _CONNECTORS or _is_acronym(core):
            continue
        if core[0].isupper():
            if title_case is False:
                return start + words[i - 1].end()
            title_case, last_cap = True, i
        elif core[0].islower():
            if title_case is True:
                # Title Case heading then body: the body began at the last capitalised word.
                return (
                    start + words[last_cap - 1].end()
                    if last_cap and last_cap > 1
                    else (start + words[0].end())
                )
            title_case = False
    return None


def _drop_overlaps(headings: list[Heading]) -> list[Heading]:
    out: list[Heading] = []
    for h in headings:
        if out and h.start < out[-1].end:
            continue
        out.append(h)
    return out
