"""HTML of the chat transcript: the questions, and answers whose [n] markers are buttons."""

from __future__ import annotations

from collections.abc import Sequence

from index.models import Answer, Citation
from ui.render.common import count_of, esc, where
from ui.render.context import Exchange
from ui.render.markdown import answer_markdown
from ui.render.sources import SOURCE_TURNS

__all__ = ["answer_html", "transcript_html"]


def transcript_html(exchanges: Sequence[Exchange]) -> str:
    if not exchanges:
        return (
            '<div class="pt-transcript"><div class="pt-empty"><p class="pt-empty-title">'
            "Ask a question about the indexed articles.</p><p>Each sentence of an answer "
            'ends with a marker like <span class="pt-cite-demo">[1]</span>; click it to see '
            "the source passage with the quoted sentence highlighted.</p></div></div>"
        )
    # Only recent turns carry their Markdown, as only they carry their sources: every answer
    # re-sends the transcript (ui.chat.KEPT_EXCHANGES); the export holds every turn.
    recent = len(exchanges) - SOURCE_TURNS
    turns = [_turn_html(t, x, copy=t >= recent) for t, x in enumerate(exchanges)]
    return f'<div class="pt-transcript">{"".join(turns)}</div>'


def _turn_html(turn: int, x: Exchange, *, copy: bool) -> str:
    question = (
        f'<div class="pt-msg pt-user"><div class="pt-bubble">{esc(x.answer.question)}</div></div>'
    )
    # The answer as Markdown with its sources, for the copy button (style.TRANSCRIPT_JS).
    tools = (
        f'<div class="pt-tools"><button type="button" class="pt-copy" data-turn="{turn}" '
        'aria-label="Copy this answer with its sources as Markdown">Copy as Markdown</button>'
        f'<textarea class="pt-md" hidden readonly>{esc(answer_markdown(x.answer))}</textarea>'
        "</div>"
        if copy
        else ""
    )
    scope = f'<p class="pt-scope">Searched only: {esc("; ".join(x.scope))}</p>' if x.scope else ""
    return (
        f'<div class="pt-turn" data-turn="{turn}">{question}{scope}'
        f'<div class="pt-msg pt-bot">{answer_html(x.answer, turn)}</div>{tools}</div>'
    )


def answer_html(answer: Answer, turn: int) -> str:
    """The answer bubble; each [n] marker becomes a button that opens source n."""
    if answer.abstained:
        count = len(answer.passages)
        more = (
            f'<button type="button" class="pt-show-sources" data-turn="{turn}">'
            f"Show the {count_of(count, 'closest passage')}</button>"
            if count
            else ""
        )
        return (
            '<div class="pt-bubble pt-abstained"><span class="pt-badge">No answer</span> '
            f"{esc(answer.answer)} {more}</div>"
        )
    parts, cursor = [], 0
    for start, end, c in _markers(answer.answer, answer.citations):
        parts.append(esc(answer.answer[cursor:start]))
        parts.append(
            f'<button type="button" class="pt-cite" data-turn="{turn}" data-n="{c.n}" '
            f'title="{esc(where(c, with_title=True))}" '
            f'aria-label="Show source {c.n}">[{c.n}]</button>'
        )
        cursor = end
    parts.append(esc(answer.answer[cursor:]))
    return f'<div class="pt-bubble">{"".join(parts)}</div>'


def _markers(text: str, citations: Sequence[Citation]) -> list[tuple[int, int, Citation]]:
    """Where each citation's [n] marker is: the one right after its quote.

    A quoted sentence may itself contain "[12]" (a reference in the article), so a marker
    is looked for after the quote rather than by pattern alone.
    """
    found, cursor = [], 0
    for c in citations:
        marker = f"[{c.n}]"
        at = text.find(c.quote, cursor)
        start = text.find(marker, at + len(c.quote) if at >= 0 else cursor)
        if start < 0:
            start = text.rfind(marker)
        if start < 0 or start < cursor:
            continue
        found.append((start, start + len(marker), c))
        cursor = start + len(marker)
    return found
