"""The Citation that points at one sentence of a passage."""

from __future__ import annotations

import re

from index.models import Citation, Passage
from index.sentences import Sentence

__all__ = ["cite", "is_heading"]

_HEADING_LIKE = re.compile(r"^\d+(\.\d+)*\s")


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
        ocr=page.ocr if page else passage.ocr,
        ocr_confidence=page.ocr_confidence if page else passage.ocr_confidence,
    )


def is_heading(sentence: Sentence, passage: Passage) -> bool:
    """True when the sentence is a heading line (kept out of answers)."""
    offset = passage.start + sentence.start
    return any(s.start <= offset < s.end for s in passage.spans.sections) or bool(
        _HEADING_LIKE.match(sentence.text)
        and len(sentence.text.split()) <= 14
        and not sentence.text.endswith(".")
    )
