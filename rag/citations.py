"""The Citation that points at one sentence of a passage."""

from __future__ import annotations

import re

from index.models import Citation, Passage
from index.sentences import Sentence

__all__ = ["cite", "is_heading"]

_HEADING_LIKE = re.compile(r"^\d+(\.\d+)*\s")
_MAX_HEADING_WORDS = 20


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
    """True when the sentence is a title or heading line (kept out of answers)."""
    offset = passage.start + sentence.start
    text = sentence.text.strip()
    if any(s.start <= offset < s.end for s in passage.spans.sections):
        return True
    if _HEADING_LIKE.match(text) and len(text.split()) <= 14 and not text.endswith("."):
        return True
    if passage.title and text.rstrip(".") == passage.title.strip().rstrip("."):
        return True
    # A line of its own without a full stop: an unnumbered heading or the title of a text
    # file ("Sleep and memory consolidation: lecture notes"), which cleaning puts in a
    # paragraph of its own; a sentence runs on or ends in punctuation.
    after = passage.text[sentence.end : sentence.end + 1]
    before = passage.text[sentence.start - 1 : sentence.start] if sentence.start else "\n"
    return (
        after in ("", "\n")
        and before == "\n"
        and not text.endswith((".", "?", "!", ":", ";"))
        and len(text.split()) <= _MAX_HEADING_WORDS
    )
