"""The Chat screen: transcript, question box, examples, session settings and sources panel.

`ChatHandlers` answers through `rag.Engine`; `chat_tab` lays the screen out and wires its
events. The HTML comes from ui.render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from index.models import Document
from index.settings import AnswerSettings, RetrievalSettings
from rag import Answer, Engine, PaperTrailError, Settings
from ui import render
from ui.render import Exchange
from ui.style import SOURCES_JS, TRANSCRIPT_JS
from ui.widgets import gradio, html_block

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["EXAMPLE_QUESTIONS", "KEPT_EXCHANGES", "ChatHandlers", "chat_tab"]

EXAMPLE_QUESTIONS = (
    "What are the barriers to MSC standardisation?",
    "Where are MSCs obtained from?",
    "How could MSCs help in systemic lupus erythematosus?",
    "What legal and ethical issues affect MSC therapy?",
)
# Chat outputs: transcript, sources, session state, question box, notice.
ChatOutputs = tuple[str, str, list[Exchange], str, str]
# Exchanges a session keeps and shows. Every answer re-sends the transcript and sources, so
# without a cap the response grew from 38 KB on the first turn to 1.4 MB on the 50th.
KEPT_EXCHANGES = 20


class ChatHandlers:
    """Event handlers of the Chat screen; one instance per app, shared by all sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def chat(
        self,
        question: str,
        exchanges: list[Exchange] | None,
        max_words: float,
        top_k: float,
        keyword_weight: float,
    ) -> ChatOutputs:
        """Answer `question` in the context of the session's earlier exchanges."""
        exchanges = list(exchanges or [])
        try:
            retrieval, answer_settings = self.session_settings(max_words, top_k, keyword_weight)
            history = [(x.answer.question, x.answer.answer) for x in exchanges]
            answer = self.engine.ask(question, history, retrieval=retrieval, answer=answer_settings)
        except (PaperTrailError, ValidationError) as exc:
            return (
                render.transcript_html(exchanges),
                render.sources_html(exchanges),
                exchanges,
                question,
                render.notice_html(_message(exc)),
            )
        exchanges = [*exchanges, Exchange(answer, self.contexts(answer))][-KEPT_EXCHANGES:]
        notice = ""
        if answer.abstained and not answer.passages and not self.engine.documents():
            notice = render.notice_html(
                "No documents are indexed yet; add some in the Documents tab.", "info"
            )
        return (
            render.transcript_html(exchanges),
            render.sources_html(exchanges),
            exchanges,
            "",
            notice,
        )

    def ask(self, question: str) -> dict[str, Any]:
        """The cited answer as JSON, as `papertrail ask --json` prints it (default settings)."""
        try:
            return self.engine.ask(question).model_dump(mode="json")
        except PaperTrailError as exc:
            raise gradio().Error(str(exc)) from exc

    def clear(self) -> ChatOutputs:
        return render.transcript_html([]), render.sources_html([]), [], "", ""

    def session_settings(
        self, max_words: float, top_k: float, keyword_weight: float
    ) -> tuple[RetrievalSettings, AnswerSettings]:
        """The engine's settings with this session's three overrides (validated)."""
        base = self.engine.settings
        retrieval = RetrievalSettings(
            **{**base.retrieval.model_dump(), "top_k": int(top_k), "keyword_weight": keyword_weight}
        )
        answer = AnswerSettings(**{**base.answer.model_dump(), "max_words": int(max_words)})
        return retrieval, answer

    def contexts(self, answer: Answer) -> list[render.PageContext | None]:
        """Page context for each source, read once while the answer is fresh."""
        docs: dict[str, Document | None] = {}

        def doc(doc_id: str) -> Document | None:
            if doc_id not in docs:
                docs[doc_id] = self.engine.document(doc_id)
            return docs[doc_id]

        if answer.abstained:
            return [
                self._with_view(render.page_context(d, p), p.doc_id, p.page, None)
                if (d := doc(p.doc_id))
                else None
                for p in answer.passages
            ]
        passages = {p.chunk_id: p for p in answer.passages}
        out: list[render.PageContext | None] = []
        for c in answer.citations:
            p, d = passages.get(c.chunk_id), doc(c.doc_id)
            ctx = render.page_context(d, p, (c.quote_start, c.quote_end)) if p and d else None
            out.append(self._with_view(ctx, c.doc_id, c.page, c.quote))
        return out

    def _with_view(
        self, ctx: render.PageContext | None, doc_id: str, page: int, quote: str | None
    ) -> render.PageContext | None:
        """The rendered PDF page beside the text, when the source is a PDF still on disk."""
        if ctx is None:
            return None
        try:
            view = self.engine.page_view(doc_id, page, quote)
        except Exception:  # a page that cannot be drawn still has its text view
            view = None
        return replace(ctx, view=view) if view else ctx


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"Invalid settings: {problems}"
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def chat_tab(h: ChatHandlers, defaults: Settings) -> None:
    gr = gradio()
    state = gr.State([])
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=520, elem_id="pt-chat-column"):
            transcript = html_block(render.transcript_html([]), "pt-transcript", TRANSCRIPT_JS)
            with gr.Row(equal_height=True, elem_id="pt-ask-row"):
                question = gr.Textbox(
                    placeholder="Ask a question about your documents…",
                    show_label=False,
                    container=False,
                    scale=8,
                    max_length=2000,
                    elem_id="pt-question",
                    autofocus=True,
                )
                send = gr.Button("Ask", variant="primary", size="md", min_width=90, scale=0)
                clear = gr.Button(
                    "Clear chat", size="md", min_width=110, scale=0, elem_id="pt-clear"
                )
            notice = html_block("", "pt-notice")
            with gr.Row(elem_id="pt-examples"):
                examples = [
                    gr.Button(q, size="sm", elem_classes=["pt-example"]) for q in EXAMPLE_QUESTIONS
                ]
            with gr.Accordion("Session settings", open=False, elem_id="pt-settings"):
                with gr.Row():
                    sliders = _settings_sliders(defaults)
                reset = gr.Button("Reset to defaults", size="sm", scale=0)
        with gr.Column(scale=5, min_width=380):
            sources = html_block(render.sources_html([]), "pt-sources", SOURCES_JS)

    outputs = [transcript, sources, state, question, notice]
    busy = {"show_progress_on": transcript}  # one spinner, not one per output
    question.submit(h.chat, [question, state, *sliders], outputs, api_name="chat", **busy)
    send.click(h.chat, [question, state, *sliders], outputs, api_visibility="private", **busy)
    for button, text in zip(examples, EXAMPLE_QUESTIONS, strict=True):
        button.click(
            _example(h, text), [state, *sliders], outputs, api_visibility="private", **busy
        )
    clear.click(h.clear, None, outputs, api_name="clear")
    initial = [s.value for s in sliders]
    reset.click(lambda: initial, None, sliders, api_visibility="private")
    gr.api(h.ask, api_name="ask")


def _settings_sliders(defaults: Settings) -> list[gr.Slider]:
    gr = gradio()
    words, top_k = defaults.answer.max_words, defaults.retrieval.top_k
    weight = defaults.retrieval.keyword_weight
    return [
        gr.Slider(
            20,
            max(400, words),
            value=words,
            step=10,
            label="Answer length (words)",
            info=f"Default {words}.",
        ),
        gr.Slider(
            1,
            max(20, top_k),
            value=top_k,
            step=1,
            label="Passages (top-k)",
            info=f"Default {top_k}.",
        ),
        gr.Slider(
            0.0,
            1.0,
            value=weight,
            step=0.05,
            label="Keyword weight",
            info=f"Default {weight} (1 = keywords only).",
        ),
    ]


def _example(h: ChatHandlers, text: str) -> Callable[..., ChatOutputs]:
    def ask_example(
        exchanges: list[Exchange] | None, max_words: float, top_k: float, keyword_weight: float
    ) -> ChatOutputs:
        return h.chat(text, exchanges, max_words, top_k, keyword_weight)

    return ask_example
