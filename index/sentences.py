"""Sentences with exact offsets: the unit of quotes and of sentence vectors."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Sentence", "split_sentences"]

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "al e.g eg i.e ie fig figs ref refs eq eqs vs approx ca cf dr mr mrs ms no nos vol vols "
    "pp p st jr sr inc ltd co sp spp resp incl dept univ est avg".split()
)
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"(\S+)\.$")
# How far back a full stop's word is looked for: past every abbreviation's length, so a
# longer word, cut short, still is not one; a whole paragraph was searched (quadratic).
_WORD_WINDOW = 32


@dataclass(frozen=True)
class Sentence:
    """A sentence of some text; text[start:end] == self.text."""

    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets; regex-based because punkt's spans break on 'et al.' and 'Fig.'."""
    out: list[Sentence] = []
    for para in re.finditer(r"[^\n]+", text):
        start, paragraph = para.start(), para.group()
        for m in _BOUNDARY.finditer(paragraph):
            if _is_abbreviation(paragraph, m.start() + 1):
                continue
            _append(out, text, start, para.start() + m.start() + 1)
            start = para.start() + m.end()
        _append(out, text, start, para.end())
    return out


def _is_abbreviation(paragraph: str, end: int) -> bool:
    """Whether the full stop ending paragraph[:end] follows an abbreviation or an initial."""
    word = _LAST_WORD.search(paragraph, max(0, end - _WORD_WINDOW), end)
    if not word:
        return False
    token = word.group(1).lstrip("([").lower()
    # Initials ("J. Smith") and decimals are not sentence ends either.
    return token.rstrip(".") in _ABBREVIATIONS or bool(re.fullmatch(r"[a-z]", token))


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Sentence(start, end, text[start:end]))
