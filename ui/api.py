"""The HTTP API beside the web UI: PaperTrail's own JSON routes and an OpenAI-compatible model.

`api_app(engine)` is an ASGI app answering two path families, mounted by `ui.app.launch` on
the same port as the Gradio UI (`papertrail serve`):

- `/api/v1/...`: ask, search and the documents (list, show, upload, remove); the bodies are
  the same pydantic models as `papertrail ask --json` (index.models). OpenAPI at
  `/api/v1/openapi.json`. Errors: `{"error": "one line"}`.
- `/v1/chat/completions` and `/v1/models`: any OpenAI client or chat UI uses PaperTrail as
  the model "papertrail". The message text carries the answer's [n] markers and the sources
  as text; `citations` on the message (the final chunk's delta when streaming) carries every
  Citation in full. Errors in OpenAI's shape: `{"error": {"message": ..., "type": ...}}`.

Guards, outermost first (docs/api.md has the numbers): cross-origin browser requests are
refused (no CORS); a per-client rate limit; the bearer token (`PAPERTRAIL_API_TOKEN`),
required whenever one is set; with `PAPERTRAIL_AUTH` set (a non-loopback bind) and no token
the API does not start (`serve` answers its routes 503, the UI is served); request body
limits. A scope (`documents`, `collections`) naming anything the index does
not hold is refused, naming it, never widened or narrowed silently.
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from index.errors import QuestionError
from index.models import (
    Answer,
    AnswerEvent,
    Citation,
    DocumentInfo,
    FileResult,
    IngestReport,
    Passage,
)
from rag import Engine, PaperTrailError, Settings
from rag.followup import Turn
from ui.documents import OCR_CHOICES, UPLOAD_TYPES

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "API_PREFIX",
    "MAX_JSON_BYTES",
    "MODEL",
    "OPENAI_PREFIX",
    "RATE_BURST",
    "RATE_PER_SECOND",
    "Bearer",
    "RateLimit",
    "api_app",
    "api_route",
    "api_token",
    "check_api",
    "served_api",
    "sources_text",
]

API_PREFIX = "/api/v1"
OPENAI_PREFIX = "/v1"
MODEL = "papertrail"
MAX_JSON_BYTES = 1_000_000  # a question with a long conversation is a few kB
UPLOAD_OVERHEAD_BYTES = 1_000_000  # multipart framing and several files' headers
RATE_PER_SECOND = 10.0  # sustained requests per client address
RATE_BURST = 60  # requests a client may send at once before being slowed
ENGINE_CONCURRENCY = 4  # asks and searches at once, as the UI's queue allows
SOURCES_HEADING = "Sources:"


# -- request and response bodies -------------------------------------------------------
class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    answer: str


class ScopeFields(BaseModel):
    documents: list[str] | None = Field(
        None, description="Only these documents (ids from GET /api/v1/documents)."
    )
    collections: list[str] | None = Field(
        None,
        description="Only documents filed in these reference-manager collections (or one "
        "inside them). With `documents`, either kind counts.",
    )


class AskRequest(ScopeFields):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, at most 2,000 characters.")
    history: list[HistoryTurn] | None = Field(
        None, description="Earlier turns of the conversation, oldest first."
    )


class SearchRequest(ScopeFields):
    model_config = ConfigDict(extra="forbid")
    question: str
    k: int | None = Field(None, ge=1, le=100, description="Passages to return (default: top_k).")


class Removed(BaseModel):
    removed: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(ScopeFields):
    """OpenAI's request; its sampling options are accepted and ignored (answers are
    composed from the passages, not sampled). `documents`/`collections` scope it."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class ApiError(Exception):
    """An error response: HTTP status and a one-line message."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


# -- settings --------------------------------------------------------------------------
def api_token(settings: Settings) -> str | None:
    """The bearer token the API requires (PAPERTRAIL_API_TOKEN), or None."""
    secret = getattr(settings, "api_token", None)
    if secret is None:
        return None
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
    return value or None


def check_api(settings: Settings) -> None:
    """Refuse to serve the API with sign-in on (a non-loopback bind) and no token."""
    if settings.credentials() and not api_token(settings):
        raise PaperTrailError(
            "PAPERTRAIL_AUTH is set, so the HTTP API needs a bearer token: set "
            "PAPERTRAIL_API_TOKEN (clients send `Authorization: Bearer <token>`)"
        )


# -- the app ---------------------------------------------------------------------------
def api_app(
    engine: Engine,
    *,
    settings: Settings | None = None,
    rate_per_second: float = RATE_PER_SECOND,
    rate_burst: int = RATE_BURST,
) -> ASGIApp:
    """The API on `engine`, guarded; `settings` (default: the engine's) give sign-in,
    token and upload limit."""
    settings = settings or engine.settings
    check_api(settings)
    app = FastAPI(
        title="PaperTrail API",
        version="1",
        description="Answers over your own articles with exact, checkable citations. "
        "See docs/api.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    _Routes(engine, settings).add_to(app)
    _errors(app)
    guarded: ASGIApp = _BodyLimit(_NoCrash(app), upload_bytes=_upload_limit(settings))
    token = api_token(settings)
    if token:
        guarded = Bearer(guarded, token)
    guarded = RateLimit(guarded, rate_per_second, rate_burst)
    return _SameOrigin(guarded)


def served_api(engine: Engine) -> ASGIApp:
    """The API `serve` mounts: `api_app(engine)`, or, when it refuses to start (sign-in on
    and no token), a stand-in answering every API request 503 with the reason, said once
    on stderr too; the UI is served either way."""
    try:
        return api_app(engine)
    except PaperTrailError as exc:
        reason = f"the HTTP API is off: {exc}"
        print(f"PaperTrail: {reason}", file=sys.stderr)

        async def off(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await _refuse(scope, send, 503, reason)

        return off


def _upload_limit(settings: Settings) -> int:
    return int(settings.max_file_mb * 1_000_000) + UPLOAD_OVERHEAD_BYTES


def api_route(app: ASGIApp) -> Any:
    """A Starlette route taking every request under /api/v1/ and /v1/ to `app` (the
    API); `ui.app.launch` puts it first among the Gradio app's routes."""
    from starlette.routing import BaseRoute, Match, NoMatchFound

    class ApiRoute(BaseRoute):
        path = API_PREFIX  # for route listings

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            if scope["type"] == "http" and _ours(scope["path"]):
                return Match.FULL, {}
            return Match.NONE, {}

        def url_path_for(self, name: str, /, **params: Any) -> Any:
            raise NoMatchFound(name, params)

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await app(scope, receive, send)

    return ApiRoute()


def _ours(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in (API_PREFIX, OPENAI_PREFIX))


class _Routes:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._asks = threading.BoundedSemaphore(ENGINE_CONCURRENCY)
        self._writes = engine.writes  # shared with the UI and MCP: one write at a time

    def add_to(self, app: FastAPI) -> None:
        api = {"tags": ["papertrail"]}
        app.post(
            f"{API_PREFIX}/ask", response_model=Answer, summary="Answer with citations", **api
        )(self.ask)
        app.post(
            f"{API_PREFIX}/search", response_model=list[Passage], summary="Retrieve passages", **api
        )(self.search)
        app.get(
            f"{API_PREFIX}/documents",
            response_model=list[DocumentInfo],
            summary="The indexed documents",
            **api,
        )(self.documents)
        app.get(
            f"{API_PREFIX}/documents/{{doc_id}}",
            response_model=DocumentInfo,
            summary="One document",
            **api,
        )(self.document)
        app.delete(
            f"{API_PREFIX}/documents/{{doc_id}}",
            response_model=Removed,
            summary="Remove a document",
            **api,
        )(self.remove)

        def upload(
            files: list[UploadFile] = File(..., description="PDF, text, Markdown or HTML files."),  # noqa: B008
            ocr: Literal["auto", "always", "never"] | None = Form(None),
        ) -> Any:
            return self.upload(files, ocr)

        upload.__doc__ = self.upload.__doc__
        app.post(
            f"{API_PREFIX}/documents", response_model=IngestReport, summary="Add documents", **api
        )(upload)
        openai = {"tags": ["openai"]}
        app.post(f"{OPENAI_PREFIX}/chat/completions", summary="OpenAI-compatible chat", **openai)(
            self.chat
        )
        app.get(f"{OPENAI_PREFIX}/models", summary="The one model: papertrail", **openai)(
            self.models
        )

    # -- /api/v1 -------------------------------------------------------------------------
    def ask(self, body: AskRequest) -> Any:
        """The answer, its citations and the passages it read: `papertrail ask --json`."""
        scope = self._scope(body.documents, body.collections)
        history = [(t.question, t.answer) for t in body.history or []]
        with self._asks:
            answer = self.engine.ask(body.question, history, doc_ids=scope)
        return _json(answer)

    def search(self, body: SearchRequest) -> Any:
        """The passages retrieval ranks first for the question, best first."""
        scope = self._scope(body.documents, body.collections)
        with self._asks:
            passages = self.engine.retrieve(body.question, body.k, doc_ids=scope)
        return _json(passages)

    def documents(self) -> Any:
        """Every indexed document (`papertrail list --json`)."""
        return _json(self.engine.documents())

    def document(self, doc_id: str) -> Any:
        """One document's details and bibliographic fields (`papertrail show --json`)."""
        info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        if info is None:
            raise ApiError(404, f"no document {doc_id!r} in the index")
        return _json(info)

    def remove(self, doc_id: str) -> Any:
        """The document and its passages leave the index; no longer searched or cited."""
        with self._writes:
            removed = self.engine.remove(doc_id)
        if not removed:
            raise ApiError(404, f"no document {doc_id!r} in the index")
        return {"removed": doc_id}

    def upload(self, files: list[UploadFile], ocr: str | None) -> Any:
        """Index uploaded files, as the UI's upload does: each at most PAPERTRAIL_MAX_FILE_MB,
        kept in the index folder's uploads/ (a failed file is not kept); a bad file fails
        alone, listed in the report."""
        if ocr not in (None, *OCR_CHOICES):
            raise ApiError(400, f"ocr must be one of {', '.join(OCR_CHOICES)}")
        if not files:
            raise ApiError(400, "no files uploaded (send them as multipart field 'files')")
        refused: list[FileResult] = []
        kept: list[str] = []
        for f in files:
            try:
                kept.append(self._keep(f))
            except PaperTrailError as exc:
                refused.append(
                    FileResult(path=_safe_name(f.filename), status="failed", error=str(exc))
                )
        if not kept:
            return _json(IngestReport(files=refused))
        try:
            with self._writes:
                report = self.engine.ingest(kept, ocr_mode=ocr)  # type: ignore[arg-type]
        except PaperTrailError:
            for path in kept:
                Path(path).unlink(missing_ok=True)
            raise
        for result in report.failed:
            Path(result.path).unlink(missing_ok=True)
        return _json(report.model_copy(update={"files": refused + report.files}))

    def _keep(self, upload: UploadFile) -> str:
        name = _safe_name(upload.filename)
        if Path(name).suffix.lower() not in UPLOAD_TYPES:
            raise PaperTrailError(
                f"{name}: not a file type PaperTrail reads ({', '.join(UPLOAD_TYPES)})"
            )
        limit = self.settings.max_file_mb
        size = upload.size if upload.size is not None else _size(upload)
        if size > limit * 1_000_000:
            raise PaperTrailError(f"{name}: file is {size / 1e6:.3g} MB; the limit is {limit:g} MB")
        kept = self.settings.index_dir / "uploads" / name
        kept.parent.mkdir(parents=True, exist_ok=True)
        import shutil

        upload.file.seek(0)
        with kept.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        return str(kept)

    def _scope(
        self, documents: list[str] | None, collections: list[str] | None
    ) -> list[str] | None:
        """The declared documents, each checked; None when nothing was declared."""
        if documents is None and collections is None:
            return None
        known = {d.doc_id for d in self.engine.documents()}
        unknown = [d for d in documents or [] if d not in known]
        if unknown:
            raise ApiError(400, f"unknown document(s): {', '.join(unknown)}")
        scope = list(documents or [])
        for collection in collections or []:
            filed = self.engine.filed_in([collection])
            if not filed:
                raise ApiError(400, f"no document is filed in collection {collection!r}")
            scope += [d for d in filed if d not in scope]
        if not scope:
            raise ApiError(400, "no documents chosen to search; name at least one")
        return scope

    # -- /v1 (OpenAI) --------------------------------------------------------------------
    def models(self) -> Any:
        """The models list OpenAI clients ask for: one, `papertrail`."""
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "papertrail"}],
        }

    def chat(self, body: ChatRequest) -> Any:
        """The last user message is the question, earlier turns the history. The message's
        content is the answer with its [n] markers, then the sources as text; `citations`
        (on the message, or the final chunk's delta when streaming) has each in full."""
        if body.model != MODEL:
            raise ApiError(
                404, f"model {body.model!r} does not exist; use {MODEL!r}", "model_not_found"
            )
        question, history = _conversation(body.messages)
        scope = self._scope(body.documents, body.collections)
        stamp = (f"chatcmpl-{uuid.uuid4().hex}", int(time.time()))
        if not body.stream:
            with self._asks:
                answer = self.engine.ask(question, history, doc_ids=scope)
            return _completion(answer, *stamp)
        events = self.engine.ask_stream(question, history, doc_ids=scope)
        with self._asks:  # retrieval and the extractive answer happen here
            first = next(events)  # a bad question is an HTTP error, not a broken stream
        from fastapi.responses import StreamingResponse

        return StreamingResponse(
            self._chunks(first, events, *stamp),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    def _chunks(
        self, first: AnswerEvent, events: Iterator[AnswerEvent], cid: str, created: int
    ) -> Iterator[str]:
        """OpenAI's stream: a role chunk, content deltas, then the sources, the citations
        and finish_reason "stop"; `data: [DONE]` last."""

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        sent = ""
        try:
            yield chunk({"role": "assistant", "content": ""})
            event = first
            for event in _chain(first, events):
                text = _body(event.answer) if event.kind == "answer" else event.answer.answer
                # Only checked text is sent, and only while it extends what was sent.
                if text.startswith(sent) and len(text) > len(sent):
                    yield chunk({"content": text[len(sent) :]})
                    sent = text
                elif event.kind == "answer" and text != sent:
                    # The checked answer differs from the text streamed (generative mode
                    # fell back to the extractive answer): the answer, whole, after a rule.
                    yield chunk({"content": f"\n\n---\n{text}"})
                    sent = text
            answer = event.answer
            tail = _sources_tail(answer)
            citations = [c.model_dump(mode="json") for c in answer.citations]
            yield chunk({"content": tail, "citations": citations}, "stop")
        except PaperTrailError as exc:
            yield f"data: {json.dumps(_openai_error(str(exc), 'server_error'))}\n\n"
        yield "data: [DONE]\n\n"


def _chain(first: AnswerEvent, rest: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    yield first
    yield from rest


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """(question, history): the last message must be the user's; earlier user messages
    pair with the assistant reply after each (whose sources text is left out)."""
    talk = [(m.role, _text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1][0] != "user":
        raise ApiError(400, "the last message must be the user's question")
    history: list[Turn] = []
    for (role, text), (next_role, reply) in pairwise(talk):
        if role == "user" and next_role == "assistant":
            history.append((text, _answer_only(reply)))
    return talk[-1][1], history


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):  # content parts: the text ones, joined
        return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return content or ""


def _answer_only(reply: str) -> str:
    """An earlier answer of ours without the sources text appended to it."""
    return re.split(rf"\n\n{re.escape(SOURCES_HEADING)}\n", reply, maxsplit=1)[0]


def _body(answer: Answer) -> str:
    """The message text before the sources: the answer, with its notice if any."""
    return answer.answer + (f"\n\nNote: {answer.notice}" if answer.notice else "")


def sources_text(citations: Iterable[Citation]) -> str:
    """The sources as text: `[1] Reference, p. 9 — “quote”`, one a line."""
    lines = []
    for c in citations:
        where = c.reference or c.title
        section = f", § {c.section}" if c.section else ""
        doi = f" https://doi.org/{c.doi}" if c.doi else ""
        ocr = " (OCR: check it on the page)" if c.ocr else ""
        lines.append(
            f"[{c.n}] {where}, p. {c.page_label or c.page}{section}{doi} — “{c.quote}”{ocr}"
        )
    return "\n".join(lines)


def _sources_tail(answer: Answer) -> str:
    return f"\n\n{SOURCES_HEADING}\n{sources_text(answer.citations)}" if answer.citations else ""


def _completion(answer: Answer, cid: str, created: int) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": _body(answer) + _sources_tail(answer),
                    "citations": [c.model_dump(mode="json") for c in answer.citations],
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _json(value: BaseModel | list[BaseModel]) -> Any:
    """The exact JSON `--json` prints (model_dump, mode json), as the response."""
    from fastapi.responses import Response

    if isinstance(value, list):
        text = "[" + ",".join(v.model_dump_json() for v in value) + "]"
    else:
        text = value.model_dump_json()
    return Response(text, media_type="application/json")


def _safe_name(filename: str | None) -> str:
    name = Path((filename or "").replace("\\", "/")).name.strip()
    if not name or name in (".", ".."):
        return "upload"
    return name


def _size(upload: UploadFile) -> int:
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    return size


# -- errors: one line, in the shape each family's clients read --------------------------
def _openai_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _error_body(path: str, message: str, kind: str) -> dict[str, Any]:
    if path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/"):
        return _openai_error(message, kind)
    return {"error": message}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _errors(app: FastAPI) -> None:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def reply(request: Request, status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse(_error_body(request.url.path, _one_line(message), kind), status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return reply(request, exc.status, exc.message, exc.kind)

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError) -> JSONResponse:
        return reply(request, 400, str(exc), "invalid_request_error")

    @app.exception_handler(PaperTrailError)
    async def papertrail_error(request: Request, exc: PaperTrailError) -> JSONResponse:
        return reply(request, 503, str(exc), "server_error")  # e.g. the Chroma server is down

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return reply(
            request,
            422,
            f"{where}: {first['msg']}{more}" if where else first["msg"],
            "invalid_request_error",
        )

    @app.exception_handler(Exception)  # starlette sends this, then re-raises (see _NoCrash)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        return reply(request, 500, f"internal error: {type(exc).__name__}: {exc}", "server_error")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"no route {request.method} {request.url.path} (see {API_PREFIX}/openapi.json)"
            )
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return reply(request, exc.status_code, message, "invalid_request_error")


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    headers: list[tuple[bytes, bytes]] = [],  # noqa: B006
) -> None:
    kind = {401: "authentication_error", 429: "rate_limit_error", 500: "server_error"}.get(
        status, "invalid_request_error"
    )
    body = json.dumps(_error_body(scope["path"], message, kind)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- guards (pure ASGI) -----------------------------------------------------------------
class _NoCrash:
    """A bug is a one-line 500 to the client, its traceback in the server's log; the
    exception goes no further (uvicorn would drop the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            if not started:
                message = f"internal error: {type(exc).__name__}: {_one_line(str(exc))}"
                await _refuse(scope, send, 500, message)


class _SameOrigin:
    """No CORS: a browser request from another origin (a web page calling the API with
    the user's network position) is refused; clients that send no Origin pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        if origin is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            netloc = origin.decode("latin-1").lower().partition("://")[2]
            if netloc != host:
                await _refuse(scope, send, 403, "cross-origin requests are refused (CORS is off)")
                return
        await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per client address: `burst` requests at once, `rate` a second."""

    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, client: str) -> float:
        """0 when the request may go; else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget clients long idle
                self._buckets = {c: (t, s) for c, (t, s) in self._buckets.items() if now - s < 600}
            return 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self._take(client)
        if wait:
            retry = str(max(1, round(wait + 0.5))).encode()
            await _refuse(
                scope,
                send,
                429,
                f"too many requests: at most {self.rate:g} a second (bursts of {self.burst}); "
                f"retry in {retry.decode()} s",
                [(b"retry-after", retry)],
            )
            return
        await self.app(scope, receive, send)


class Bearer:
    """Every request needs `Authorization: Bearer <PAPERTRAIL_API_TOKEN>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
            await self.app(scope, receive, send)
            return
        await _refuse(
            scope,
            send,
            401,
            "missing or wrong bearer token: send `Authorization: Bearer <PAPERTRAIL_API_TOKEN>`",
            [(b"www-authenticate", b'Bearer realm="papertrail"')],
        )


class _BodyLimit:
    """A body needs a Content-Length within the limit: 1 MB of JSON, or an upload of
    PAPERTRAIL_MAX_FILE_MB plus 1 MB; refused (411, 413) before it is read."""

    def __init__(self, app: ASGIApp, *, upload_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope.get("headers") or [])
            upload = scope["path"] == f"{API_PREFIX}/documents"
            limit = self.upload_bytes if upload else MAX_JSON_BYTES
            length = headers.get(b"content-length")
            if length is None or not length.isdigit():
                await _refuse(scope, send, 411, "send the body with a Content-Length")
                return
            if int(length) > limit:
                await _refuse(
                    scope,
                    send,
                    413,
                    f"request body is {int(length) / 1e6:.3g} MB; the limit is "
                    f"{limit / 1e6:.3g} MB" + (" (PAPERTRAIL_MAX_FILE_MB + 1)" if upload else ""),
                )
                return
        await self.app(scope, receive, send)
