"""HTML of the sources panel: one card per citation (or closest passage), with its page."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from index.models import Citation, Passage
from rag.cite import doi_url
from ui.render.common import esc, where
from ui.render.context import Exchange, PageContext

__all__ = ["SOURCE_TURNS", "sources_html"]

_SNIPPET_CHARS = 110
# Turns whose sources are sent with each answer; an older turn's are a note. A turn's
# sources (cards, passages, page text) are ~30 KB, most of what an answer re-sends.
SOURCE_TURNS = 3


def sources_html(exchanges: Sequence[Exchange]) -> str:
    """Sources of every turn; only the latest turn's are shown until a marker is clicked."""
    if not exchanges:
        body = '<p class="pt-empty">Sources appear here after you ask a question.</p>'
    else:
        last = len(exchanges) - 1
        body = "".join(
            _turn_sources(t, x, hidden=t != last)
            if last - t < SOURCE_TURNS
            else _sources_not_kept(t, x)
            for t, x in enumerate(exchanges)
        )
    return f'<h2 class="pt-panel-title">Sources</h2><div class="pt-sources">{body}</div>'


def _sources_not_kept(turn: int, x: Exchange) -> str:
    return (
        f'<div class="pt-turn-sources" data-turn="{turn}" hidden>'
        f'<p class="pt-sources-for">Sources for “{esc(x.answer.question)}”</p>'
        '<p class="pt-empty">Sources of earlier answers are not kept; ask the question again '
        "to see them.</p></div>"
    )


def _turn_sources(turn: int, x: Exchange, *, hidden: bool) -> str:
    a = x.answer
    attrs = f'class="pt-turn-sources" data-turn="{turn}"' + (" hidden" if hidden else "")
    head = f'<p class="pt-sources-for">Sources for “{esc(a.question)}”</p>'
    if a.abstained:
        head = (
            f'<p class="pt-sources-for">Closest passages for “{esc(a.question)}”</p>'
            '<p class="pt-insufficient-note">These passages are <strong>not sufficient to '
            "answer</strong> the question.</p>"
        )
        cards = [
            _passage_card(turn, i, p, _ctx(x, i - 1)) for i, p in enumerate(a.passages, start=1)
        ]
        if not cards:
            cards = ['<p class="pt-empty">No passages matched at all.</p>']
    else:
        passages = {p.chunk_id: p for p in a.passages}
        cards = [
            _citation_card(turn, c, passages.get(c.chunk_id), _ctx(x, i))
            for i, c in enumerate(a.citations)
        ]
    return f"<section {attrs}>{head}{''.join(cards)}</section>"


def _ctx(x: Exchange, i: int) -> PageContext | None:
    return x.contexts[i] if 0 <= i < len(x.contexts) else None


def _citation_card(turn: int, c: Citation, passage: Passage | None, ctx: PageContext | None) -> str:
    body = (
        esc(c.passage[: c.quote_start])
        + f'<mark class="pt-quote">{esc(c.quote)}</mark>'
        + esc(c.passage[c.quote_end :])
    )
    snippet = _snippet(c.quote)
    doi = (
        f'<p class="pt-doi"><a href="{esc(doi_url(c.doi))}" target="_blank" rel="noopener">'
        f"doi:{esc(c.doi)}</a></p>"
        if c.doi
        else ""
    )
    title = c.reference or c.title
    return _card(turn, c.n, f"[{c.n}]", title, c.doc_id, where(c), snippet, body + doi, ctx)


def _passage_card(turn: int, i: int, p: Passage, ctx: PageContext | None) -> str:
    badge = '<span class="pt-badge pt-badge-warn">not sufficient to answer</span>'
    return _card(
        turn, i, f"({i})", p.title, p.doc_id, where(p), _snippet(p.text), esc(p.text), ctx, badge
    )


def _card(
    turn: int,
    n: int,
    label: str,
    title: str,
    doc_id: str,
    where: str,
    snippet: str,
    body: str,
    ctx: PageContext | None,
    badge: str = "",
) -> str:
    context = _context_html(ctx) if ctx else ""
    return (
        f'<details class="pt-source" id="pt-src-{turn}-{n}" data-turn="{turn}" data-n="{n}">'
        f'<summary><span class="pt-n">{label}</span> <span class="pt-title">{esc(title)}</span>'
        f'{badge}<span class="pt-where">{esc(where)}</span>'
        f'<span class="pt-snippet">{esc(snippet)}</span></summary>'
        f'<div class="pt-passage">{body}</div>'
        f'<p class="pt-file">{esc(doc_id)}</p>{context}</details>'
    )


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text}”" if len(text) <= _SNIPPET_CHARS else f"“{text[:_SNIPPET_CHARS].rstrip()}…”"


def _context_html(ctx: PageContext) -> str:
    t = ctx.text
    ps, pe = ctx.passage_start, ctx.passage_end
    if ctx.quote_start is not None and ctx.quote_end is not None:
        qs, qe = max(ctx.quote_start, ps), min(ctx.quote_end, pe)
        inner = esc(t[ps:qs]) + f'<mark class="pt-quote">{esc(t[qs:qe])}</mark>' + esc(t[qe:pe])
    else:
        inner = esc(t[ps:pe])
    text = (
        ("… " if ctx.cut_before else "")
        + esc(t[:ps])
        + f'<span class="pt-ctx-passage">{inner}</span>'
        + esc(t[pe:])
        + (" …" if ctx.cut_after else "")
    )
    return (
        f'<details class="pt-context"><summary>Show in document ({esc(ctx.page)})</summary>'
        f"{_page_image(ctx)}"
        f'<div class="pt-page">{text}</div></details>'
    )


def _page_image(ctx: PageContext) -> str:
    """The rendered PDF page with the quote's printed lines highlighted over it."""
    view = ctx.view
    if view is None:
        return ""
    marks = "".join(
        f'<div class="pt-hl" style="left:{x0 * 100:.3f}%;top:{y0 * 100:.3f}%;'
        f'width:{(x1 - x0) * 100:.3f}%;height:{(y1 - y0) * 100:.3f}%"></div>'
        for x0, y0, x1, y1 in view.boxes
    )
    src = "/gradio_api/file=" + quote(view.image)
    return (
        f'<div class="pt-pdfpage" style="aspect-ratio:{view.aspect:.4f}">'
        f'<img src="{esc(src)}" alt="{esc(ctx.page)} as printed" loading="lazy">{marks}</div>'
    )
