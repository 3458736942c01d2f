"""Sentences with exact offsets, and the Citation that points at one of them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.models import Citation, Passage

__all__ = ["Sentence", "cite", "split_sentences"]

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "al e.g eg i.e ie fig figs ref refs eq eqs vs approx ca cf dr mr mrs ms no nos vol vols "
    "pp p st jr sr inc ltd co sp spp resp incl dept univ est avg".split()
)
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_HEADING_LIKE = re.compile(r"^\d+(\.\d+)*\s")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage; passage.text[start:end] == text."""

    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets; regex-based because punkt's spans break on 'et al.' and 'Fig.'."""
    out: list[Sentence] = []
    for para in re.finditer(r"[^\n]+", text):
        start = para.start()
        for m in _BOUNDARY.finditer(para.group()):
            if _is_abbreviation(para.group()[: m.start() + 1]):
                continue
            _append(out, text, start, para.start() + m.start() + 1)
            start = para.start() + m.end()
        _append(out, text, start, para.end())
    return out


def _is_abbreviation(before: str) -> bool:
    word = re.search(r"(\S+)\.$", before)
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


def cite(n: int, passage: Passage, sentence: Sentence) -> Citation:
    """Citation [n] quoting `sentence` of `passage`, with its own page and section."""
    offset = passage.start + sentence.start
    page = passage.spans.page_at(offset)
    section = passage.spans.section_at(offset)
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        source=passage.source,
        page=page.page if page else passage.page,
        page_label=(page.label if page else passage.page_label),
        section=section.heading if section else passage.section,
        passage=passage.text,
        quote=sentence.text,
        quote_start=sentence.start,
        quote_end=sentence.end,
        chunk_id=passage.chunk_id,
    )


def is_heading(sentence: Sentence, passage: Passage) -> bool:
    """True when the sentence is a heading line (kept out of answers)."""
    offset = passage.start + sentence.start
    return any(s.start <= offset < s.end for s in passage.spans.sections) or bool(
        _HEADING_LIKE.match(sentence.text)
        and len(sentence.text.split()) <= 14
        and not sentence.text.endswith(".")
    )
