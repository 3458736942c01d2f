"""HTML of the chat transcript: the questions, and answers whose [n] markers are buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.models import Answer, Citation, Claim
from ui.render.common import count_of, esc, weak_support_note, where
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
    turns = [
        _turn_html(t, x, copy=t >= recent and x.pending is None) for t, x in enumerate(exchanges)
    ]
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
        f"{_downloads(turn, x.cited)}</div>"
        if copy
        else ""
    )
    scope = f'<p class="pt-scope">Searched only: {esc("; ".join(x.scope))}</p>' if x.scope else ""
    searched = (
        f'<p class="pt-scope pt-searched">Searched for: {esc(x.answer.searched)}</p>'
        if x.answer.searched
        else ""
    )
    notice = (
        f'<p class="pt-scope pt-answer-notice" role="status">{esc(x.answer.notice)}</p>'
        if x.answer.notice
        else ""
    )
    weak = weak_support_note(x.answer)
    # Under the answer: its quotes may not answer the question.
    notice += f'<p class="pt-scope pt-weak" role="note">{esc(weak)}</p>' if weak else ""
    body = answer_html(x.answer, turn, pending=x.pending, waiting=x.waiting)
    return (
        f'<div class="pt-turn" data-turn="{turn}">{question}{scope}{searched}'
        f'<div class="pt-msg pt-bot">{body}</div>{notice}{tools}</div>'
    )


_VERDICTS = {
    "supported": ("✓", "Supported by the cited source"),
    "weak": ("~", "Only partly supported by the cited source"),
    "unsupported": ("✗", "Not supported by the cited source"),
    "uncited": ("?", "Cites no source"),
}
_MARKER = re.compile(r"\[(\d+)\]")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;–-]\s*\d+)*\]")


def answer_html(answer: Answer, turn: int, *, pending: str | None = None, waiting: str = "") -> str:
    """The answer bubble; each [n] marker becomes a button that opens source n.

    A generated answer shows each checked sentence with its verdict mark; while it is
    being written (`pending` not None) the unchecked rest follows, without its markers
    (they become buttons once the sentence is checked), and `waiting` stands in for the
    text until there is some."""
    if answer.mode == "generative" or pending is not None:
        return _generated_html(answer, turn, pending, waiting)
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


def _generated_html(answer: Answer, turn: int, pending: str | None, waiting: str = "") -> str:
    by_n = {c.n: c for c in answer.citations}
    parts = [_claim_html(c, by_n, turn) for c in answer.claims if c.end > c.start]
    removed = sum(c.end == c.start for c in answer.claims)
    if pending is not None:
        # A marker still being written ("[2") is left out too.
        tail = esc(re.sub(r"\s*\[[\d,;\s–-]*$", "", _MARKERS.sub("", pending)))
        if waiting and not answer.claims and not tail.strip():
            # A local model may take seconds before its first word: say what is going on.
            parts.append(f'<span class="pt-waiting" role="status">{esc(waiting)}</span>')
        parts.append(f'<span class="pt-pending">{tail}</span><span class="pt-caret"></span>')
    elif removed:
        parts.append(
            f'<span class="pt-removed">({count_of(removed, "unsupported sentence")} removed)</span>'
        )
    writing = " pt-writing" if pending is not None else ""
    return f'<div class="pt-bubble pt-generated{writing}">{" ".join(parts)}</div>'


def _claim_html(claim: Claim, by_n: dict[int, Citation], turn: int) -> str:
    """One checked sentence: its markers as buttons, then its verdict mark."""
    parts, cursor = [], 0
    for m in _MARKER.finditer(claim.text):
        c = by_n.get(int(m.group(1)))
        if c is None or c.n not in claim.cites:
            continue
        parts.append(esc(claim.text[cursor : m.start()]))
        parts.append(
            f'<button type="button" class="pt-cite" data-turn="{turn}" data-n="{c.n}" '
            f'title="{esc(where(c, with_title=True))}" '
            f'aria-label="Show source {c.n}">[{c.n}]</button>'
        )
        cursor = m.end()
    parts.append(esc(claim.text[cursor:]))
    mark, label = _VERDICTS[claim.verdict]
    why = f"{label}: {claim.reason}" if claim.reason else label
    return (
        f'<span class="pt-claim pt-v-{claim.verdict}">{"".join(parts)}'
        f'<span class="pt-verdict" role="img" title="{esc(why)}" aria-label="{esc(why)}">'
        f"{mark}</span></span>"
    )


_FORMATS = {"bibtex": ("BibTeX", ".bib"), "ris": ("RIS", ".ris"), "csl-json": ("CSL-JSON", ".json")}


def _downloads(turn: int, cited: dict[str, str]) -> str:
    """A download button per citation format: the works this answer cites, pages included
    (style.TRANSCRIPT_JS saves the hidden text as a file)."""
    return "".join(
        f'<button type="button" class="pt-cite-dl" data-file="cited-works-{turn + 1}{suffix}" '
        f'aria-label="Download the cited works as {label}">{label}</button>'
        f'<textarea class="pt-cited" hidden readonly>{esc(cited[fmt])}</textarea>'
        for fmt, (label, suffix) in _FORMATS.items()
        if fmt in cited
    )
