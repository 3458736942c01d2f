"""Markdown of an answer or a conversation, citations included, for copying and export.

Plain text, not HTML: the text goes into a clipboard or a .md file, never into the page
unescaped (the transcript embeds it through `esc`).
"""

from __future__ import annotations

from collections.abc import Sequence

from index.models import Answer, Citation, Passage
from rag.cite import doi_url
from ui.render.common import page_name, weak_support_note

__all__ = ["answer_markdown", "conversation_markdown"]

_MARKS = {"supported": "✓", "weak": "~", "unsupported": "✗", "uncited": "?"}


def answer_markdown(answer: Answer) -> str:
    """The question, the answer with its [n] markers, and each source with its quote."""
    lines = [f"**Q:** {answer.question}", ""]
    if answer.searched:
        lines += [f"*Searched for:* {answer.searched}", ""]
    lines += [answer.answer, ""]
    if answer.notice:
        lines += [f"*Note:* {answer.notice}", ""]
    if weak := weak_support_note(answer):
        lines += [f"*Note:* {weak}", ""]
    if answer.mode == "generative" and answer.claims:
        lines += ["**Checked against the sources**", ""]
        for claim in answer.claims:
            removed = " (removed)" if claim.end == claim.start else ""
            why = f" — {claim.reason}" if claim.reason else ""
            lines.append(f"- {_MARKS[claim.verdict]} {claim.verdict}{removed}: {claim.text}{why}")
        lines.append("")
    if answer.citations:
        lines.append("**Sources**")
        lines.append("")
        for c in answer.citations:
            lines.append(f"[{c.n}] {_where(c)}")
            lines.append(f"> “{_one_line(c.quote)}”")
            lines.append("")
    elif answer.passages:
        lines.append("**Closest passages** (not sufficient to answer)")
        lines.append("")
        for i, p in enumerate(answer.passages, start=1):
            lines.append(f"({i}) {_where(p)}")
            lines.append(f"> {_one_line(p.text)[:300]}…")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(title: str, answers: Sequence[Answer]) -> str:
    """Every exchange of a conversation, in order, under its title."""
    if not answers:
        return ""
    parts = [f"# {title}\n"] + [answer_markdown(a) for a in answers]
    return "\n---\n\n".join(parts)


def _where(c: Citation | Passage) -> str:
    reference = c.reference if isinstance(c, Citation) else None
    bits = [reference or f"*{c.title}*", page_name(c.page, c.page_label)]
    if c.section:
        bits.append(f"§ {c.section}")
    doi = f" <{doi_url(c.doi)}>" if isinstance(c, Citation) and c.doi else ""
    return ", ".join(bits) + f" ({c.doc_id}){doi}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
