"""The web UI: multi-turn chat with clickable citations, and document management.

A thin client of `rag.Engine`: it turns our models into HTML (ui.render) and wires
Gradio events. Gradio is imported inside functions, so importing this module loads no
model, opens no index and stays cheap for the CLI.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from index.models import Document
from index.settings import AnswerSettings, RetrievalSettings
from rag import Answer, Engine, PaperTrailError, Settings
from ui import render
from ui.render import Exchange
from ui.style import CSS, SOURCES_JS, TRANSCRIPT_JS

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["EXAMPLE_QUESTIONS", "UPLOAD_TYPES", "build_app", "launch", "open_engine", "serve"]

EXAMPLE_QUESTIONS = (
    "What are the barriers to MSC standardisation?",
    "Where are MSCs obtained from?",
    "How could MSCs help in systemic lupus erythematosus?",
    "What legal and ethical issues affect MSC therapy?",
)
UPLOAD_TYPES = [".pdf", ".txt", ".md", ".markdown", ".html", ".htm"]
# Chat outputs: transcript, sources, session state, question box, notice.
ChatOutputs = tuple[str, str, list[Exchange], str, str]


def _gradio() -> Any:
    """Gradio, imported with analytics off (it reads the variable at import)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio

    return gradio


class Handlers:
    """Event handlers; one instance per app, shared by all sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writes = threading.Lock()  # one ingest or removal at a time

    # -- chat -------------------------------------------------------------------------
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
        exchanges.append(Exchange(answer, self.contexts(answer)))
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
            raise _gradio().Error(str(exc)) from exc

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
                render.page_context(d, p) if (d := doc(p.doc_id)) else None for p in answer.passages
            ]
        passages = {p.chunk_id: p for p in answer.passages}
        out: list[render.PageContext | None] = []
        for c in answer.citations:
            p, d = passages.get(c.chunk_id), doc(c.doc_id)
            out.append(render.page_context(d, p, (c.quote_start, c.quote_end)) if p and d else None)
        return out

    # -- documents --------------------------------------------------------------------
    def documents(self) -> tuple[str, Any]:
        """The document table and the removal dropdown's choices."""
        gr = _gradio()
        docs = self.engine.documents()
        choices = [(f"{d.title} ({d.doc_id})", d.doc_id) for d in docs]
        return render.documents_html(docs), gr.Dropdown(choices=choices, value=None)

    def upload(
        self, files: Sequence[str] | None, progress: Callable[..., object] | None = None
    ) -> tuple[str, str, Any, None]:
        """Index uploaded files; each file's outcome is listed, a bad file fails alone."""
        paths = [self._keep(Path(f)) for f in files or []]
        if not paths:
            return (
                render.notice_html("Choose one or more files first.", "info"),
                *self.documents(),
                None,
            )

        def on_progress(done: int, total: int) -> None:
            if progress is not None:
                progress((done, total), desc="Embedding passages", unit="chunks")

        if progress is not None:
            progress(0, desc=f"Reading {len(paths)} file{'s' if len(paths) != 1 else ''}")
        with self._writes:
            report = self.engine.ingest(paths, on_progress=on_progress)
        for result in report.failed:
            Path(result.path).unlink(missing_ok=True)
        return (render.report_html(report.files), *self.documents(), None)

    def _keep(self, upload: Path) -> str:
        """Copy an upload out of Gradio's temporary folder, so citations keep a real source."""
        kept = self.engine.settings.index_dir / "uploads" / upload.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upload, kept)
        return str(kept)

    def ask_remove(self, doc_id: str | None) -> tuple[Any, str, str]:
        """First step of removal: show what will be removed and ask to confirm."""
        gr = _gradio()
        info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        if info is None:
            return gr.Column(visible=False), "", render.notice_html("Choose a document to remove.")
        question = (
            f"Remove “{render.esc(info.title)}” ({render.esc(info.doc_id)}) and its "
            f"{render.count_of(info.chunks, 'passage')} from the index? "
            "It will no longer be searched or cited."
        )
        return gr.Column(visible=True), f'<p class="pt-confirm-text">{question}</p>', ""

    def confirm_remove(self, doc_id: str | None) -> tuple[Any, str, str, Any]:
        """Second step of removal; the document and its passages leave the index."""
        gr = _gradio()
        titles = {d.doc_id: d.title for d in self.engine.documents()}
        with self._writes:
            removed = bool(doc_id) and self.engine.remove(str(doc_id))
        message = (
            render.notice_html(f"Removed “{titles.get(str(doc_id), doc_id)}” ({doc_id}).", "info")
            if removed
            else render.notice_html(f"No document {doc_id!r} to remove; it may already be gone.")
        )
        return gr.Column(visible=False), message, *self.documents()

    def cancel_remove(self) -> tuple[Any, str]:
        return _gradio().Column(visible=False), render.notice_html("Nothing was removed.", "info")


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"Invalid settings: {problems}"
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def build_app(engine: Engine) -> gr.Blocks:
    """The Gradio app on an open engine; `launch` serves it."""
    gr = _gradio()
    h = Handlers(engine)
    with gr.Blocks(title="PaperTrail", analytics_enabled=False) as demo:
        _html(
            "<h1>PaperTrail</h1><span>Ask questions about scientific articles; every answer "
            "cites the exact passage it comes from.</span>",
            "pt-header",
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                _chat_tab(h, engine.settings)
            with gr.Tab("Documents", id="documents") as documents_tab:
                documents = _documents_tab(h)
        demo.load(h.documents, None, documents, api_name="documents")
        # Another session may have added or removed documents meanwhile.
        documents_tab.select(h.documents, None, documents, api_visibility="private")
    return demo


def _html(value: str, elem_id: str | None = None, js: str | None = None) -> gr.HTML:
    """Our own HTML: Gradio's prose styles off, and no click events unless asked for."""
    return _gradio().HTML(
        value, elem_id=elem_id, elem_classes=["pt-html"], js_on_load=js, apply_default_css=False
    )


def _chat_tab(h: Handlers, defaults: Settings) -> None:
    gr = _gradio()
    state = gr.State([])
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=520, elem_id="pt-chat-column"):
            transcript = _html(render.transcript_html([]), "pt-transcript", TRANSCRIPT_JS)
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
            notice = _html("", "pt-notice")
            with gr.Row(elem_id="pt-examples"):
                examples = [
                    gr.Button(q, size="sm", elem_classes=["pt-example"]) for q in EXAMPLE_QUESTIONS
                ]
            with gr.Accordion("Session settings", open=False, elem_id="pt-settings"):
                with gr.Row():
                    sliders = _settings_sliders(defaults)
                reset = gr.Button("Reset to defaults", size="sm", scale=0)
        with gr.Column(scale=5, min_width=380):
            sources = _html(render.sources_html([]), "pt-sources", SOURCES_JS)

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
    gr = _gradio()
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


def _documents_tab(h: Handlers) -> list[Any]:
    """The document list, upload and removal; returns the outputs a refresh updates."""
    gr = _gradio()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = gr.File(
                label="Add documents (PDF, text, Markdown, HTML)",
                file_count="multiple",
                file_types=UPLOAD_TYPES,
                elem_id="pt-upload",
                height=140,
            )
            upload_report = _html("", "pt-upload-report")
        with gr.Column(scale=2):
            to_remove = gr.Dropdown(
                choices=[], label="Remove a document", elem_id="pt-remove-choice"
            )
            remove = gr.Button("Remove…", size="sm", elem_id="pt-remove")
            with gr.Column(visible=False, elem_id="pt-confirm", variant="panel") as confirm_box:
                confirm_text = _html("")
                with gr.Row():
                    confirm = gr.Button(
                        "Yes, remove", variant="stop", size="sm", elem_id="pt-confirm-yes"
                    )
                    cancel = gr.Button("Cancel", size="sm", elem_id="pt-confirm-cancel")
            remove_notice = _html("", "pt-remove-notice")
    documents = _html(render.documents_html([]), "pt-documents")

    refreshed = [documents, to_remove]
    tracker = gr.Progress()

    def upload_files(files: list[str] | None, progress: Any = tracker) -> tuple[Any, ...]:
        return h.upload(files, progress)

    upload.upload(
        upload_files,
        upload,
        [upload_report, *refreshed, upload],
        api_name="upload",
        show_progress_on=upload,
    )
    remove.click(
        h.ask_remove, to_remove, [confirm_box, confirm_text, remove_notice], api_name="ask_remove"
    )
    confirm.click(
        h.confirm_remove, to_remove, [confirm_box, remove_notice, *refreshed], api_name="remove"
    )
    cancel.click(h.cancel_remove, None, [confirm_box, remove_notice], api_visibility="private")
    return refreshed


def _example(h: Handlers, text: str) -> Callable[..., ChatOutputs]:
    def ask_example(
        exchanges: list[Exchange] | None, max_words: float, top_k: float, keyword_weight: float
    ) -> ChatOutputs:
        return h.chat(text, exchanges, max_words, top_k, keyword_weight)

    return ask_example


def launch(
    demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True
) -> None:
    """Serve `demo` on host:port; with block=False it returns once the server is up."""
    gr = _gradio()
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=False,
        quiet=not block,
        footer_links=["api"],
        theme=_theme(gr),
        css=CSS,
    )


def _theme(gr: Any) -> Any:
    """Gradio's default look, minus its SemiBold font file: that one is a small subset
    (capital A and B are missing), so weight-600 text mixed in a fallback font."""
    font = gr.themes.LocalFont("Source Sans Pro", weights=(400, 700))
    return gr.themes.Default(
        primary_hue="indigo", font=[font, "ui-sans-serif", "system-ui", "sans-serif"]
    )


def open_engine(settings: Settings, *, bundled: bool = True) -> Engine:
    """Open the index and, when it is empty and `bundled`, index the bundled article."""
    engine = Engine.open(settings)
    if bundled:
        report = engine.ensure_bundled_corpus()
        for f in report.failed if report else []:
            print(f"warning: bundled article not indexed: {f.error}", file=sys.stderr)
    return engine


def serve(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 7860, bundled: bool = True
) -> None:
    """`papertrail serve`: one engine for the process, then the web UI until interrupted."""
    engine = open_engine(settings, bundled=bundled)
    print(
        f"PaperTrail: {len(engine.documents())} document(s) in {settings.index_dir}",
        file=sys.stderr,
    )
    launch(build_app(engine), host=host, port=port)
