"""The cited page around a passage, and the exchange (question, answer, contexts) it serves.

Read once while an answer is fresh, so both panels render the page the passage came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.models import Answer, Document, Passage
from rag import PageView
from ui.render.common import page_name

__all__ = ["CONTEXT_MARGIN", "MAX_CONTEXT_CHARS", "Exchange", "PageContext", "page_context"]

# A page longer than this is shown as a window around the passage, not whole.
MAX_CONTEXT_CHARS = 6000
CONTEXT_MARGIN = 1500


@dataclass(frozen=True)
class PageContext:
    """The cited page's cleaned text (or a window of it) with the passage and quote located.

    Offsets are relative to `text`; the quote offsets are None when there is no quote.
    """

    page: str  # "p. 128"
    text: str
    passage_start: int
    passage_end: int
    quote_start: int | None = None
    quote_end: int | None = None
    cut_before: bool = False  # text starts mid-page
    cut_after: bool = False
    view: PageView | None = None  # the rendered PDF page, when the source is a PDF


@dataclass
class Exchange:
    """One question and its answer, with the page context of each source.

    `contexts` is aligned with `answer.citations`, or with `answer.passages` on abstention.
    """

    answer: Answer
    contexts: list[PageContext | None] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)  # titles searched; [] for all documents
    pending: str | None = None  # an answer being written: its unchecked text (None when done)
    # What an answer being written waits for, shown until the LLM writes its first words.
    waiting: str = ""
    # The works it cites as files to download: format (bibtex, ris, csl-json) -> text.
    cited: dict[str, str] = field(default_factory=dict)


def page_context(
    doc: Document,
    passage: Passage,
    quote: tuple[int, int] | None = None,
) -> PageContext | None:
    """Context of `passage` (and of `quote`, offsets into the passage) on its page of `doc`.

    None when the stored document no longer matches the passage (it was re-indexed).
    """
    if doc.text[passage.start : passage.end] != passage.text:
        return None
    anchor = passage.start + (quote[0] if quote else 0)
    span = doc.page_at(anchor)
    if span is None:
        lo, hi, name = 0, len(doc.text), page_name(passage.page, passage.page_label)
    else:
        later = [p.start for p in doc.pages if p.start > span.start]
        lo, hi, name = (
            span.start,
            min(later, default=len(doc.text)),
            page_name(span.page, span.label),
        )
    page_lo, page_hi = lo, hi
    if hi - lo > MAX_CONTEXT_CHARS:
        lo = _snap_back(doc.text, max(lo, passage.start - CONTEXT_MARGIN), lo)
        hi = _snap_forward(doc.text, min(hi, passage.end + CONTEXT_MARGIN), hi)
    text = doc.text[lo:hi]

    def clip(offset: int) -> int:
        return min(max(offset - lo, 0), len(text))

    q_start = q_end = None
    if quote:
        q_start, q_end = clip(passage.start + quote[0]), clip(passage.start + quote[1])
    return PageContext(
        page=name,
        text=text,
        passage_start=clip(passage.start),
        passage_end=clip(passage.end),
        quote_start=q_start,
        quote_end=q_end,
        cut_before=lo > page_lo,
        cut_after=hi < page_hi,
    )


def _snap_back(text: str, offset: int, floor: int) -> int:
    """Move a window start back to a line or word boundary so no word is cut."""
    for sep in ("\n", " "):
        i = text.rfind(sep, floor, offset + 1)
        if i >= 0 and offset - i < 200:
            return i + 1
    return offset


def _snap_forward(text: str, offset: int, ceiling: int) -> int:
    for sep in ("\n", " "):
        i = text.find(sep, offset, ceiling)
        if i >= 0 and i - offset < 200:
            return i
    return offset
