"""Pieces of HTML every screen uses: escaping, counts, notices, where a passage is."""

from __future__ import annotations

from html import escape

from index.models import Answer, Citation, Passage

__all__ = ["count_of", "esc", "notice_html", "page_name", "weak_support_note", "where"]


def esc(text: str) -> str:
    return escape(text, quote=True)


def count_of(n: int, noun: str) -> str:
    """ "1 passage", "2 passages"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def notice_html(message: str, kind: str = "error") -> str:
    if not message:
        return ""
    role = "alert" if kind == "error" else "status"
    return f'<div class="pt-notice pt-notice-{kind}" role="{role}">{esc(message)}</div>'


def weak_support_note(answer: Answer) -> str | None:
    """The one-line warning on an answer given with weak support, else None."""
    if answer.abstained or not answer.weak_support:
        return None
    return (
        f"Weak support ({answer.evidence_score:.2f}): the quoted sentences may not answer "
        "this question; check them."
    )


def page_name(page: int, label: str | None) -> str:
    return f"p. {label or page}"


def where(c: Citation | Passage, *, with_title: bool = False) -> str:
    bits = [c.title] if with_title else []
    bits.append(page_name(c.page, c.page_label))
    if c.section:
        bits.append(f"§ {c.section}")
    if c.ocr:
        bits.append("(OCR)")  # read from a scanned page: the quote may hold misread words
    return " · ".join(bits)
