"""HTML for the chat transcript, the sources panel and the document list.

Pure functions over our models. Every piece of text that comes from a document, a file
name or the user goes through `esc` here, so nothing inside a document can run in the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

from index.models import Answer, Citation, Document, DocumentInfo, FileResult, Passage

__all__ = [
    "Exchange",
    "PageContext",
    "answer_html",
    "count_of",
    "documents_html",
    "esc",
    "notice_html",
    "page_context",
    "report_html",
    "sources_html",
    "transcript_html",
]

# A page longer than this is shown as a window around the passage, not whole.
MAX_CONTEXT_CHARS = 6000
CONTEXT_MARGIN = 1500
_SNIPPET_CHARS = 110


def esc(text: str) -> str:
    return escape(text, quote=True)


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


@dataclass
class Exchange:
    """One question and its answer, with the page context of each source.

    `contexts` is aligned with `answer.citations`, or with `answer.passages` on abstention.
    """

    answer: Answer
    contexts: list[PageContext | None] = field(default_factory=list)


def page_name(page: int, label: str | None) -> str:
    return f"p. {label or page}"


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


# -- chat transcript ------------------------------------------------------------------


def transcript_html(exchanges: Sequence[Exchange]) -> str:
    if not exchanges:
        return (
            '<div class="pt-transcript"><div class="pt-empty"><p class="pt-empty-title">'
            "Ask a question about the indexed articles.</p><p>Each sentence of an answer "
            'ends with a marker like <span class="pt-cite-demo">[1]</span>; click it to see '
            "the source passage with the quoted sentence highlighted.</p></div></div>"
        )
    turns = [_turn_html(t, x) for t, x in enumerate(exchanges)]
    return f'<div class="pt-transcript">{"".join(turns)}</div>'


def _turn_html(turn: int, x: Exchange) -> str:
    question = (
        f'<div class="pt-msg pt-user"><div class="pt-bubble">{esc(x.answer.question)}</div></div>'
    )
    return (
        f'<div class="pt-turn" data-turn="{turn}">{question}'
        f'<div class="pt-msg pt-bot">{answer_html(x.answer, turn)}</div></div>'
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
            f'title="{esc(_where(c, with_title=True))}" '
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


def _where(c: Citation | Passage, *, with_title: bool = False) -> str:
    bits = [c.title] if with_title else []
    bits.append(page_name(c.page, c.page_label))
    if c.section:
        bits.append(f"§ {c.section}")
    return " · ".join(bits)


# -- sources panel --------------------------------------------------------------------


def sources_html(exchanges: Sequence[Exchange]) -> str:
    """Sources of every turn; only the latest turn's are shown until a marker is clicked."""
    if not exchanges:
        body = '<p class="pt-empty">Sources appear here after you ask a question.</p>'
    else:
        last = len(exchanges) - 1
        body = "".join(_turn_sources(t, x, hidden=t != last) for t, x in enumerate(exchanges))
    return f'<h2 class="pt-panel-title">Sources</h2><div class="pt-sources">{body}</div>'


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
    return _card(turn, c.n, f"[{c.n}]", c.title, c.doc_id, _where(c), snippet, body, ctx)


def _passage_card(turn: int, i: int, p: Passage, ctx: PageContext | None) -> str:
    badge = '<span class="pt-badge pt-badge-warn">not sufficient to answer</span>'
    return _card(
        turn, i, f"({i})", p.title, p.doc_id, _where(p), _snippet(p.text), esc(p.text), ctx, badge
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
        f'<div class="pt-page">{text}</div></details>'
    )


# -- messages, documents and uploads ----------------------------------------------------


def notice_html(message: str, kind: str = "error") -> str:
    if not message:
        return ""
    role = "alert" if kind == "error" else "status"
    return f'<div class="pt-notice pt-notice-{kind}" role="{role}">{esc(message)}</div>'


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    if not docs:
        return (
            '<p class="pt-empty">No documents indexed yet. Upload PDF, text, Markdown or '
            "HTML files below.</p>"
        )
    rows = "".join(
        f'<tr data-doc-id="{esc(d.doc_id)}"><td class="pt-doc-title">{esc(d.title)}'
        f'<div class="pt-file">{esc(d.doc_id)}</div></td><td class="pt-num">{d.pages}</td>'
        f'<td class="pt-num">{d.chunks}</td><td>{esc(_date(d.ingested_at))}</td></tr>'
        for d in docs
    )
    count = f"{count_of(len(docs), 'document')} indexed"
    return (
        f'<p class="pt-doc-count">{count}</p><div class="pt-docs-box"><table class="pt-docs">'
        "<thead><tr><th>Document</th><th>Pages</th><th>Chunks</th><th>Added</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def count_of(n: int, noun: str) -> str:
    """ "1 passage", "2 passages"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _date(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = when.tzname() or ""
    return when.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


_STATUS = {
    "indexed": "indexed",
    "replaced": "replaced the earlier version",
    "unchanged": "unchanged, already indexed",
}


def report_html(files: Sequence[FileResult]) -> str:
    """Per-file outcome of an upload; paths are shown by file name, not temp location."""
    items = []
    for f in files:
        name = Path(f.path).name
        if f.status == "failed":
            error = (f.error or "could not be indexed").replace(f.path, name)
            if name not in error:
                error = f"{name}: {error}"
            items.append(f'<li class="pt-fail"><strong>Failed</strong> {esc(error)}</li>')
            continue
        chunks = f", {count_of(f.chunks, 'passage')}" if f.chunks else ""
        items.append(
            f'<li class="pt-ok"><strong>{esc(name)}</strong>: {_STATUS[f.status]}{chunks}</li>'
        )
        for w in f.warnings:
            items.append(
                f'<li class="pt-warn"><strong>Note</strong> {esc(name)}: {esc(w.message)}; '
                "that page cannot be searched or cited.</li>"
            )
    ok = sum(f.status != "failed" for f in files)
    failed = len(files) - ok
    parts = [f"{count_of(ok, 'file')} ready to search"] if ok else []
    if failed:
        parts.append(f"{failed} failed" if ok else f"{count_of(failed, 'file')} failed")
    summary = ", ".join(parts) or "No files"
    return f'<div class="pt-report" role="status"><p>{summary}.</p><ul>{"".join(items)}</ul></div>'
