"""The Chat screen: transcript, question box, examples, session settings and sources panel.

`ChatHandlers` answers through `rag.Engine`; `chat_tab` lays the screen out and wires its
events. The HTML comes from ui.render.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from index.models import Document
from index.settings import AnswerSettings, LLMSettings, RetrievalSettings
from rag import Answer, Engine, PaperTrailError, Settings
from rag.cite import EXPORT_SUFFIX
from ui import render
from ui.conversations import Conversation, ConversationStore, new_key, title_for
from ui.examples import BUNDLED_EXAMPLES, example_questions
from ui.render import Exchange
from ui.render.markdown import conversation_markdown
from ui.render.sources import SOURCE_TURNS
from ui.style import SOURCES_JS, TRANSCRIPT_JS
from ui.widgets import gradio, html_block

if TYPE_CHECKING:
    import gradio as gr

__all__ = [
    "CHAT_CONCURRENCY",
    "EXAMPLE_QUESTIONS",
    "KEPT_EXCHANGES",
    "ChatHandlers",
    "chat_tab",
    "llm_name",
]

EXAMPLE_QUESTIONS = BUNDLED_EXAMPLES  # shown until other documents are indexed
# Chat outputs: transcript, sources, session state, question box, notice.
ChatOutputs = tuple[str, str, list[Exchange], str, str]
# Saved-conversation outputs: the browser's state, the conversation list, the export.
SavedOutputs = tuple[dict[str, str], Any, str]
# Exchanges a session keeps and shows. Every answer re-sends the transcript and sources, so
# without a cap the response grew from 38 KB on the first turn to 1.4 MB on the 50th.
KEPT_EXCHANGES = 20
# A streamed answer is re-drawn at most this often (each update re-sends the transcript),
# and whenever a sentence's verdict arrives.
_STREAM_INTERVAL_S = 0.15
# Answers in progress at once, across sessions. An extractive answer costs the handler ~10 ms,
# so this only matters while an LLM writes; the queue's limit did not change extractive
# throughput at 1, 4 or 16 (docs/reliability.md).
CHAT_CONCURRENCY = 16


# The scope picker's value for a reference-manager collection (no document id has a ":").
COLLECTION = "collection::"


class ChatHandlers:
    """Event handlers of the Chat screen; one instance per app, shared by all sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.saved = ConversationStore(engine.settings.index_dir / "conversations")
        self._documents: dict[tuple[str, str], Document | None] = {}  # for example questions

    def chat(
        self,
        question: str,
        exchanges: list[Exchange] | None,
        max_words: float,
        top_k: float,
        keyword_weight: float,
        scope: list[str] | None = None,
        generate: bool | None = None,
    ) -> ChatOutputs:
        """`chat_stream`'s final outputs."""
        *_, last = self.chat_stream(
            question, exchanges, max_words, top_k, keyword_weight, scope, generate
        )
        return last

    def chat_stream(
        self,
        question: str,
        exchanges: list[Exchange] | None,
        max_words: float,
        top_k: float,
        keyword_weight: float,
        scope: list[str] | None = None,
        generate: bool | None = None,
    ) -> Iterator[ChatOutputs]:
        """Answer `question` in the context of the session's earlier exchanges; a non-empty
        `scope` (document ids) limits the search to those documents, and `generate` (the
        question's switch; None: the configured mode) has the LLM write the answer. A
        generated answer is shown as it is written, each sentence's verdict as it is checked."""
        exchanges = list(exchanges or [])
        answer = None
        try:
            retrieval, answer_settings = self.session_settings(
                max_words, top_k, keyword_weight, generate
            )
            history = [(x.answer.question, x.answer.answer) for x in exchanges]
            titles = self._titles(scope or [])
            waiting = ""
            if answer_settings.mode == "generative" and question.strip():
                # Nothing streams until the LLM's first words (a local model may first have
                # to start): the question and the wait are shown meanwhile.
                waiting = f"Reading the passages with {llm_name(self.engine.settings.llm)}…"
                asked = Answer(question=question, answer="", abstained=False)
                wait = Exchange(asked, [], scope=titles, pending="", waiting=waiting)
                skip = gradio().skip()
                yield render.transcript_html([*exchanges, wait]), skip, skip, "", ""
            events = self.engine.ask_stream(
                question,
                history,
                retrieval=retrieval,
                answer=answer_settings,
                doc_ids=self._scoped(scope) if scope else None,
            )
            shown = 0.0
            for event in events:
                if event.kind == "answer":
                    answer = event.answer
                    break
                now = time.monotonic()
                if event.kind == "delta" and now - shown < _STREAM_INTERVAL_S:
                    continue
                shown = now
                partial = Exchange(
                    event.answer, [], scope=titles, pending=event.pending, waiting=waiting
                )
                skip = gradio().skip()
                yield render.transcript_html([*exchanges, partial]), skip, skip, "", ""
        except (PaperTrailError, ValidationError) as exc:
            yield (
                render.transcript_html(exchanges),
                render.sources_html(exchanges),
                exchanges,
                question,
                render.notice_html(_message(exc)),
            )
            return
        assert answer is not None
        turn = Exchange(answer, self.contexts(answer), scope=titles, cited=self.cited(answer))
        exchanges = [*exchanges, turn][-KEPT_EXCHANGES:]
        notice = ""
        if answer.abstained and not answer.passages and not self.engine.documents():
            notice = render.notice_html(
                "No documents are indexed yet; add some in the Documents tab.", "info"
            )
        yield (
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

    # -- scope and examples ---------------------------------------------------------
    def refresh(self, scope: list[str] | None) -> list[Any]:
        """The scope's choices and the example questions, for the documents indexed now."""
        gr = gradio()
        try:
            docs = sorted(self.engine.documents(), key=lambda d: d.ingested_at, reverse=True)
        except PaperTrailError:
            return [gr.skip()] * (1 + len(BUNDLED_EXAMPLES))
        # A reference manager's collections (and those they hold) come first, then documents.
        shelves = sorted({"/".join(c.split("/")[: i + 1]) for d in docs for c in d.collections
                          for i in range(c.count("/") + 1)})  # fmt: skip
        choices = [(f"Collection: {c}", COLLECTION + c) for c in shelves]
        choices += [(d.title, d.doc_id) for d in docs]
        ids = {value for _, value in choices}
        picker = gr.Dropdown(choices=choices, value=[i for i in scope or [] if i in ids])
        full = [self._document(d.doc_id, d.content_hash) for d in docs[:8]]
        questions = example_questions([d for d in full if d], len(BUNDLED_EXAMPLES))
        buttons = [
            gr.Button(value=q, visible=True) if q else gr.Button(visible=False)
            for q in questions + [""] * (len(BUNDLED_EXAMPLES) - len(questions))
        ]
        return [picker, *buttons]

    def _document(self, doc_id: str, content_hash: str) -> Document | None:
        """A document's headings and title, without its text (a cache of whole texts would
        hold every indexed article in memory)."""
        key = (doc_id, content_hash)
        if key not in self._documents:
            doc = self.engine.document(doc_id)
            self._documents[key] = doc.model_copy(update={"text": ""}) if doc else None
        return self._documents[key]

    def _titles(self, doc_ids: list[str]) -> list[str]:
        if not doc_ids:
            return []
        titles = {d.doc_id: d.title for d in self.engine.documents()}
        return [
            f"Collection: {i.removeprefix(COLLECTION)}"
            if i.startswith(COLLECTION)
            else titles.get(i, i)
            for i in doc_ids
        ]

    def _scoped(self, scope: list[str]) -> list[str]:
        """The scope's documents: those named, and those filed in the collections named. A
        collection now empty is said so, not read as everything."""
        shelves = [s.removeprefix(COLLECTION) for s in scope if s.startswith(COLLECTION)]
        ids = [s for s in scope if not s.startswith(COLLECTION)]
        ids += self.engine.filed_in(shelves) if shelves else []
        if not ids:
            raise PaperTrailError(f"no document is filed in {' or '.join(shelves)} any more")
        return list(dict.fromkeys(ids))

    # -- saved conversations -----------------------------------------------------
    def save(
        self, exchanges: list[Exchange] | None, browser: dict[str, str] | None
    ) -> SavedOutputs:
        """Keep the open conversation on the server under this browser's key."""
        browser = _browser(browser)
        if not exchanges:
            return browser, self._choices(browser), ""
        key, active = browser["key"], browser["active"] or new_key()
        known = self.saved.get(key, active)
        conversation = Conversation(
            id=active,
            title=known.title if known else title_for(exchanges[0].answer.question),
            answers=[x.answer for x in exchanges],
            scopes=[x.scope for x in exchanges],
        )
        self.saved.put(key, conversation)
        browser = {**browser, "active": active}
        return browser, self._choices(browser), self._export(conversation)

    def restore(
        self, conversation_id: str | None, browser: dict[str, str] | None
    ) -> tuple[str, str, list[Exchange], dict[str, str], Any, str]:
        """Show a saved conversation (the browser's open one after a reload)."""
        browser = _browser(browser)
        found = self.saved.get(browser["key"], conversation_id or browser["active"])
        answers = found.answers if found else []
        scopes = found.scopes if found else []
        last = len(answers) - SOURCE_TURNS
        # Page contexts only for the turns whose sources are shown (ui.render.sources).
        exchanges = [
            Exchange(
                a,
                self.contexts(a) if t >= last else [],
                scope=scopes[t] if t < len(scopes) else [],
                cited=self.cited(a) if t >= last else {},
            )
            for t, a in enumerate(answers)
        ]
        browser = {**browser, "active": found.id if found else ""}
        return (
            render.transcript_html(exchanges),
            render.sources_html(exchanges),
            exchanges,
            browser,
            self._choices(browser),
            self._export(found) if found else "",
        )

    def new(self, browser: dict[str, str] | None) -> SavedOutputs:
        """Start a new conversation; the old one stays in the list."""
        browser = {**_browser(browser), "active": ""}
        return browser, self._choices(browser), ""

    def rename(self, title: str, browser: dict[str, str] | None) -> tuple[Any, str, str]:
        browser = _browser(browser)
        if not self.saved.rename(browser["key"], browser["active"], title):
            return (
                self._choices(browser),
                title,
                render.notice_html(
                    "Ask a question first, then give the conversation a title.", "info"
                ),
            )
        found = self.saved.get(browser["key"], browser["active"])
        return self._choices(browser), "", self._export(found) if found else ""

    def delete(self, browser: dict[str, str] | None) -> SavedOutputs:
        browser = _browser(browser)
        self.saved.delete(browser["key"], browser["active"])
        return self.new(browser)

    def _choices(self, browser: dict[str, str]) -> Any:
        saved = self.saved.all(browser["key"])
        choices = [(f"{c.title} · {c.updated[:10]}", c.id) for c in saved]
        active = browser["active"] if any(c.id == browser["active"] for c in saved) else None
        return gradio().Dropdown(choices=choices, value=active)

    def cited(self, answer: Answer) -> dict[str, str]:
        """The answer's cited works as BibTeX, RIS and CSL-JSON, for its download buttons."""
        if not answer.citations:
            return {}
        return {fmt: self.engine.cited_works(answer, fmt) for fmt in EXPORT_SUFFIX}

    @staticmethod
    def _export(conversation: Conversation) -> str:
        return conversation_markdown(conversation.title, conversation.answers)

    def session_settings(
        self,
        max_words: float,
        top_k: float,
        keyword_weight: float,
        generate: bool | None = None,
    ) -> tuple[RetrievalSettings, AnswerSettings]:
        """The engine's settings with this session's overrides (validated); `generate`
        None keeps the configured answer mode."""
        base = self.engine.settings
        retrieval = RetrievalSettings(
            **{**base.retrieval.model_dump(), "top_k": int(top_k), "keyword_weight": keyword_weight}
        )
        overrides: dict[str, Any] = {"max_words": int(max_words)}
        if generate is not None:
            overrides["mode"] = "generative" if generate else "extractive"
        answer = AnswerSettings(**{**base.answer.model_dump(), **overrides})
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
                self._with_view(render.page_context(d, p), d, p.page, None)
                if (d := doc(p.doc_id))
                else None
                for p in answer.passages
            ]
        passages = {p.chunk_id: p for p in answer.passages}
        out: list[render.PageContext | None] = []
        for c in answer.citations:
            p, d = passages.get(c.chunk_id), doc(c.doc_id)
            ctx = render.page_context(d, p, (c.quote_start, c.quote_end)) if p and d else None
            out.append(self._with_view(ctx, d, c.page, c.quote) if d else ctx)
        return out

    def _with_view(
        self, ctx: render.PageContext | None, document: Document, page: int, quote: str | None
    ) -> render.PageContext | None:
        """The rendered PDF page beside the text, when the source is a PDF still on disk."""
        if ctx is None:
            return None
        try:
            view = self.engine.page_view(document, page, quote)
        except Exception:  # a page that cannot be drawn still has its text view
            view = None
        return replace(ctx, view=view) if view else ctx


def _browser(value: dict[str, str] | None) -> dict[str, str]:
    """This browser's key (made on its first visit) and its open conversation's id."""
    value = dict(value or {})
    return {"key": value.get("key") or new_key(), "active": value.get("active") or ""}


def llm_name(llm: LLMSettings) -> str:
    """How the UI names the configured LLM."""
    return "the local model" if llm.local else "the LLM"


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"Invalid settings: {problems}"
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def chat_tab(h: ChatHandlers, defaults: Settings, demo: gr.Blocks, tab: gr.Tab) -> None:
    gr = gradio()
    state = gr.State([])
    browser = gr.BrowserState(
        {"key": "", "active": ""}, storage_key="papertrail-chats", secret=h.saved.secret()
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=520, elem_id="pt-chat-column"):
            with gr.Row(equal_height=True, elem_id="pt-conversations"):
                conversations = gr.Dropdown(
                    choices=[],
                    label="Conversations",
                    show_label=False,
                    container=False,
                    scale=8,
                    elem_id="pt-conversation-choice",
                )
                clear = gr.Button("New chat", size="md", min_width=110, scale=0, elem_id="pt-new")
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
            with gr.Row(equal_height=True, elem_id="pt-scope-row"):
                scope = gr.Dropdown(
                    choices=[],
                    value=[],
                    multiselect=True,
                    label="Search in",
                    info="Leave empty to search all documents.",
                    scale=2,
                    elem_id="pt-scope",
                )
                generate = _generate_switch(defaults)
            notice = html_block("", "pt-notice")
            with gr.Row(elem_id="pt-examples"):
                examples = [
                    gr.Button(q, size="sm", elem_classes=["pt-example"]) for q in EXAMPLE_QUESTIONS
                ]
            with gr.Accordion("Session settings", open=False, elem_id="pt-settings"):
                with gr.Row():
                    sliders = _settings_sliders(defaults)
                reset = gr.Button("Reset to defaults", size="sm", scale=0)
            with gr.Accordion(
                "Rename, delete or export this conversation", open=False, elem_id="pt-manage"
            ):
                with gr.Row(equal_height=True):
                    title = gr.Textbox(
                        placeholder="New title",
                        show_label=False,
                        container=False,
                        scale=4,
                        elem_id="pt-title-box",
                        max_length=200,
                    )
                    rename = gr.Button("Rename", size="sm", scale=0, elem_id="pt-rename")
                    delete = gr.Button(
                        "Delete", size="sm", variant="stop", scale=0, elem_id="pt-delete"
                    )
                export = gr.Code(
                    "",
                    language="markdown",
                    label="This conversation as Markdown",
                    buttons=["copy", "download"],
                    interactive=False,
                    elem_id="pt-export",
                    max_lines=16,
                )
        with gr.Column(scale=5, min_width=380):
            sources = html_block(render.sources_html([]), "pt-sources", SOURCES_JS)

    outputs = [transcript, sources, state, question, notice]
    saved = [browser, conversations, export]
    busy = {"show_progress_on": transcript}  # one spinner, not one per output
    # Answers share their own queue slots: a generated answer waits on the LLM for seconds
    # while holding one, and uploads (CPU-heavy) keep the default limit.
    busy |= {"concurrency_limit": CHAT_CONCURRENCY, "concurrency_id": "chat"}
    private = {"api_visibility": "private"}
    # The switch comes last, so callers of the /chat API that predate it keep working.
    asking = [state, *sliders, scope, generate]
    asked = [
        question.submit(h.chat_stream, [question, *asking], outputs, api_name="chat", **busy),
        send.click(h.chat_stream, [question, *asking], outputs, **private, **busy),
    ]
    for button in examples:  # a button's label is its question (they follow the documents)
        asked.append(button.click(h.chat_stream, [button, *asking], outputs, **private, **busy))
    for event in asked:  # a separate step, so the /chat API keeps its inputs and outputs
        event.then(h.save, [state, browser], saved, **private)
    clear.click(h.clear, None, outputs, api_name="clear").then(h.new, browser, saved, **private)
    restored = [transcript, sources, state, browser, conversations, export]
    conversations.input(h.restore, [conversations, browser], restored, **private)
    demo.load(lambda b: h.restore(None, b), browser, restored, **private)
    for trigger in (demo.load, tab.select):  # documents may have come or gone meanwhile
        trigger(h.refresh, scope, [scope, *examples], **private)
    rename.click(h.rename, [title, browser], [conversations, title, export], **private)
    title.submit(h.rename, [title, browser], [conversations, title, export], **private)
    delete.click(h.delete, browser, saved, **private).then(h.clear, None, outputs, **private)
    initial = [s.value for s in sliders]
    reset.click(lambda: initial, None, sliders, **private)
    gr.api(h.ask, api_name="ask")


def _generate_switch(defaults: Settings) -> gr.Checkbox:
    """Whether the LLM writes this question's answer; shown only when there is an LLM (its
    value still follows answer.mode, so the /chat API answers as configured)."""
    gr = gradio()
    llm = defaults.llm
    slow = (
        "Slower: the local model takes several seconds per answer on 2 cores."
        if llm.local
        else "Slower than the quick answer."
    )
    return gr.Checkbox(
        value=defaults.answer.mode == "generative",
        label=f"Read with {llm_name(llm)}",
        info=f"{slow} Every sentence is checked against its source.",
        visible=bool(llm.local or llm.base_url),
        scale=2,
        min_width=240,
        elem_id="pt-generate",
    )


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
