"""Pieces of HTML every screen uses: escaping, counts, notices, where a passage is."""

from __future__ import annotations

from html import escape

from index.models import Citation, Passage

__all__ = ["count_of", "esc", "notice_html", "page_name", "where"]


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


def page_name(page: int, label: str | None) -> str:
    return f"p. {label or page}"


def where(c: Citation | Passage, *, with_title: bool = False) -> str:
    bits = [c.title] if with_title else []
    bits.append(page_name(c.page, c.page_label))
    if c.section:
        bits.append(f"§ {c.section}")
    return " · ".join(bits)
