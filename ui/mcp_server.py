"""PaperTrail as a Model Context Protocol server: the researcher's articles as tools and
resources inside an assistant (Claude Desktop, Cursor, Zed, ...), citations intact.

    papertrail mcp                       # stdio, for a desktop assistant
    papertrail mcp --http --port 8765    # streamable HTTP on http://127.0.0.1:8765/mcp

A thin client of `rag.Engine`, like the CLI and the web UI: every tool returns the same
JSON as `papertrail ... --json` (the pydantic models of index.models), and every failure is
an MCP tool error with a one-line message, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import anyio.to_thread
import typer
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from index.models import (
    Document,
    DocumentInfo,
    DocumentMetadata,
    Passage,
)
from index.sentences import split_sentences
from rag import Engine, PaperTrailError, Settings
from ui.render.common import weak_support_note

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = [
    "DOCUMENT_URI",
    "DocumentList",
    "PassageContext",
    "PassageList",
    "build_server",
    "mcp_command",
]

log = logging.getLogger("papertrail.mcp")

DOCUMENT_URI = "papertrail://documents/{doc_id}"
_CONTEXT_SENTENCES = 2  # get_passage: sentences shown either side of the cited span
_WINDOW_CHARS = 4000  # ...searched for within this many characters of it
_MAX_K = 50
TOKEN_ENV = "PAPERTRAIL_API_TOKEN"

INSTRUCTIONS = (
    "PaperTrail answers questions from the user's own indexed scientific articles. Every "
    "answer cites exact quotes with document, page and offsets: when you use an answer, keep "
    "its [n] markers and give each citation's quote, title (or reference) and page. If "
    "`abstained` is true the articles do not answer the question: say so, do not guess. "
    "If `weak_support` is true, tell the user to check the quotes."
)

P = ParamSpec("P")
R = TypeVar("R")


# -- what the tools return (beside the project's own models) ---------------------------
class PassageList(BaseModel):
    """search_passages: the passages retrieved, best first."""

    question: str
    passages: list[Passage]


class DocumentList(BaseModel):
    """list_documents: every indexed document."""

    documents: list[DocumentInfo]


class PassageContext(BaseModel):
    """get_passage: a span of a document with the sentences around it and where it is."""

    doc_id: str
    title: str
    source: str
    start: int = Field(description="Offset of the span in the document's cleaned text.")
    end: int
    text: str = Field(description="The span itself (a citation's passage or quote).")
    before: list[str] = Field(default_factory=list, description="Sentences just before it.")
    after: list[str] = Field(default_factory=list, description="Sentences just after it.")
    page: int | None = None
    page_label: str | None = None
    section: str | None = None
    kind: str = "body"
    ocr: bool = False
    metadata: DocumentMetadata | None = None


Documents = Annotated[
    list[str] | None,
    Field(description="Only these document ids (from list_documents); omit for all."),
]
Collections = Annotated[
    list[str] | None,
    Field(
        description="Only documents filed in these reference-manager collections "
        "(or one inside them), e.g. 'Thesis/Chapter 2'."
    ),
]
Question = Annotated[str, Field(description="A question about the indexed articles.")]


# -- errors ------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _tool_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A PaperTrailError is the tool's error message; anything else is logged (stderr) and
    reported in one line, so no traceback reaches the assistant."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ToolError:
            raise
        except PaperTrailError as exc:
            raise ToolError(_one_line(exc)) from exc
        except Exception as exc:
            log.exception("tool %s failed", func.__name__)
            raise ToolError(f"internal error ({type(exc).__name__}): {_one_line(exc)}") from exc

    return wrapper


def _result(model: BaseModel, *notes: str | None) -> CallToolResult:
    """The model as structured content and as its JSON text (what `--json` prints), then
    any one-line notes for an assistant that reads only text."""
    data = model.model_dump(mode="json")
    content = [TextContent(type="text", text=json.dumps(data, ensure_ascii=False))]
    content += [TextContent(type="text", text=n) for n in notes if n]
    return CallToolResult(content=content, structured_content=data)


# -- the server ------------------------------------------------------------------------
class _Server(MCPServer):
    """MCPServer whose resource list names every indexed document (read at list time, so
    ingested documents appear), and whose ingest tool, when off, says how to turn it on."""

    def __init__(self, engine: Engine, *, allow_ingest: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._engine = engine
        self._allow_ingest = allow_ingest

    async def list_resources(self) -> list[Resource]:
        listed = await super().list_resources()
        try:
            documents = await anyio.to_thread.run_sync(self._engine.documents)
        except PaperTrailError as exc:
            raise ResourceError(_one_line(exc)) from exc
        return listed + [
            Resource(
                uri=DOCUMENT_URI.format(doc_id=d.doc_id),
                name=d.doc_id,
                title=d.title,
                description=f"{d.title} ({d.pages} pages): metadata, page list and text.",
                mime_type="application/json",
            )
            for d in documents
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if name == "ingest" and not self._allow_ingest:
            raise ToolError(
                "ingest is off on this server; start it with `papertrail mcp --allow-ingest` "
                "to let an assistant add files to the index"
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):  # pydantic's is several lines
                raise ToolError(f"{name}: invalid arguments: {_problems(exc.__cause__)}") from exc
            raise


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )


def build_server(engine: Engine, *, allow_ingest: bool = False) -> MCPServer:
    """The MCP server over `engine`: tools search_passages, ask, list_documents,
    get_passage (and ingest with `allow_ingest`), documents as resources."""
    server = _Server(
        engine,
        allow_ingest=allow_ingest,
        name="papertrail",
        title="PaperTrail",
        description="Questions answered from your own scientific articles, with exact citations.",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def scope(documents: list[str] | None, collections: list[str] | None) -> list[str] | None:
        """The doc ids a call may read: those named and those filed in the collections
        named; None (everything) when neither is given. Unknown names are errors."""
        if documents is None and collections is None:
            return None
        known = {d.doc_id for d in engine.documents()}
        chosen: list[str] = []
        if documents is not None:
            unknown = [d for d in documents if d not in known]
            if unknown:
                raise ToolError(
                    f"no document {', '.join(map(repr, unknown))} in the index; "
                    "list_documents gives the ids"
                )
            chosen += documents
        if collections:
            filed = engine.filed_in(collections)
            if not filed:
                raise ToolError(
                    f"no document is filed in {' or '.join(map(repr, collections))}; "
                    "list_documents shows each document's collections"
                )
            chosen += filed
        if not chosen:
            raise ToolError("no documents chosen to search; name at least one, or none for all")
        return list(dict.fromkeys(chosen))

    @server.tool(
        description="Find the passages of the user's articles most relevant to a question "
        "(document, page, section, offsets, score), without composing an answer.",
        annotations=read_only,
    )
    @_tool_errors
    def search_passages(
        question: Question,
        documents: Documents = None,
        collections: Collections = None,
        k: Annotated[int, Field(ge=1, le=_MAX_K, description="How many passages.")] = 5,
    ) -> CallToolResult:
        passages = engine.retrieve(question, k, doc_ids=scope(documents, collections))
        return _result(PassageList(question=question, passages=passages))

    @server.tool(
        description="Answer a question from the user's articles with numbered [n] citations "
        "(exact quote, document, page); abstains when the articles do not answer it.",
        annotations=read_only,
    )
    @_tool_errors
    def ask(
        question: Question, documents: Documents = None, collections: Collections = None
    ) -> CallToolResult:
        answer = engine.ask(question, doc_ids=scope(documents, collections))
        return _result(answer, weak_support_note(answer), answer.notice)

    @server.tool(
        description="List the indexed documents: ids, titles, pages, bibliographic metadata "
        "and collections (use the ids to scope search_passages and ask).",
        annotations=read_only,
    )
    @_tool_errors
    def list_documents() -> CallToolResult:
        return _result(DocumentList(documents=engine.documents()))

    @server.tool(
        description="Show a citation in context: the sentences around a span of a document "
        "(a citation's chunk_id, or doc_id with start/end offsets) and its page and section.",
        annotations=read_only,
    )
    @_tool_errors
    def get_passage(
        doc_id: Annotated[str, Field(description="The document id (Citation.doc_id).")],
        start: Annotated[
            int | None, Field(ge=0, description="Start offset in the document's text.")
        ] = None,
        end: Annotated[int | None, Field(ge=0, description="End offset (exclusive).")] = None,
        chunk_id: Annotated[
            str | None, Field(description="A citation's or passage's chunk_id instead.")
        ] = None,
        sentences: Annotated[
            int, Field(ge=0, le=10, description="Sentences of context either side.")
        ] = _CONTEXT_SENTENCES,
    ) -> CallToolResult:
        document = engine.document(doc_id)
        if document is None:
            raise ToolError(f"no document {doc_id!r} in the index; list_documents gives the ids")
        if chunk_id is not None:
            start, end = _chunk_span(engine, doc_id, chunk_id)
        if start is None or end is None:
            raise ToolError("give chunk_id, or both start and end (offsets in the document)")
        if not start < end <= len(document.text):
            raise ToolError(
                f"start {start} and end {end} are not a span of {doc_id!r} "
                f"(its text has {len(document.text)} characters)"
            )
        return _result(_context(document, start, end, sentences))

    @server.tool(
        description="Add files (PDF, TXT, Markdown, HTML; absolute paths on the server's "
        "machine) to the index, then report what was indexed or why not.",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
    )
    @_tool_errors
    def ingest(
        paths: Annotated[list[str], Field(min_length=1, description="Files or folders.")],
    ) -> CallToolResult:
        resolved = [Path(p).expanduser() for p in paths]
        missing = [str(p) for p in resolved if not p.exists()]
        if missing:
            raise ToolError(f"no such file: {', '.join(missing)}")
        with engine.writes:  # one write at a time, with the UI and the HTTP API
            report = engine.ingest(resolved)
        failed = "; ".join(f"{Path(f.path).name}: {f.error}" for f in report.failed)
        return _result(report, f"failed: {failed}" if failed else None)

    if not allow_ingest:
        server.remove_tool("ingest")  # not offered; a call is refused by _Server.call_tool

    @server.resource(
        DOCUMENT_URI,
        name="document",
        title="An indexed document",
        description="A document's title, metadata, collections, page list and cleaned text.",
        mime_type="application/json",
    )
    def document_resource(doc_id: str) -> str:
        try:
            document = engine.document(doc_id)
        except PaperTrailError as exc:
            raise ResourceError(_one_line(exc)) from exc
        if document is None:
            raise ResourceNotFoundError(f"no document {doc_id!r} in the index")
        return json.dumps(_document_json(document), ensure_ascii=False)

    return server


def _chunk_span(engine: Engine, doc_id: str, chunk_id: str) -> tuple[int, int]:
    if not chunk_id.startswith(f"{doc_id}#"):
        raise ToolError(f"chunk {chunk_id!r} is not a chunk of {doc_id!r}")
    with engine._outage():
        # Chunk records are keyed by generation; every generation of one chunk id (it
        # carries the content hash) has the same offsets.
        got = engine.store.chunks.get(where={"chunk_id": chunk_id}, include=["metadatas"], limit=1)
    metas = got.get("metadatas") or []
    if not got["ids"] or not metas:
        raise ToolError(
            f"no chunk {chunk_id!r} in the index (the document was re-indexed since?); "
            "give start and end instead"
        )
    return int(metas[0]["start"]), int(metas[0]["end"])


def _context(document: Document, start: int, end: int, n: int) -> PassageContext:
    """The span with `n` sentences either side, and its page and section."""
    lo = max(0, start - _WINDOW_CHARS)
    window = document.text[lo : min(len(document.text), end + _WINDOW_CHARS)]
    sentences = [(lo + s.start, lo + s.end, s.text) for s in split_sentences(window)]
    # Window edges cut sentences: drop the first and last unless the window reaches the text's.
    if lo > 0:
        sentences = sentences[1:]
    if lo + len(window) < len(document.text):
        sentences = sentences[:-1]
    before = [t for a, b, t in sentences if b <= start][-n:] if n else []
    after = [t for a, b, t in sentences if a >= end][:n] if n else []
    page = document.page_at(start)
    section = document.section_at(start)
    return PassageContext(
        doc_id=document.doc_id,
        title=document.title,
        source=document.source,
        start=start,
        end=end,
        text=document.text[start:end],
        before=before,
        after=after,
        page=page.page if page else None,
        page_label=page.label if page else None,
        section=section.heading if section else None,
        kind=document.kind_at(start),
        ocr=bool(page and page.ocr),
        metadata=document.metadata,
    )


def _document_json(document: Document) -> dict[str, Any]:
    text = document.text
    starts = [p.start for p in document.pages] + [len(text)]
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "source": document.source,
        "metadata": document.metadata.model_dump(mode="json") if document.metadata else None,
        "collections": document.collections,
        "pages": [
            {
                "page": p.page,
                "label": p.label,
                "start": p.start,
                "end": starts[i + 1],
                "ocr": p.ocr,
            }
            for i, p in enumerate(document.pages)
        ],
        "sections": [
            {"heading": s.heading, "start": s.start, "level": s.level} for s in document.sections
        ],
        "text": text,
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("papertrail")
    except PackageNotFoundError:
        return "0"


def api_token(settings: Settings | None = None) -> str | None:
    """The bearer token: Settings.api_token once the settings have one, else the variable."""
    secret = getattr(settings, "api_token", None) if settings is not None else None
    if secret is not None:
        return secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
    return os.environ.get(TOKEN_ENV) or None


def check_http(host: str, settings: Settings, token: str | None) -> bool:
    """Whether the HTTP transport needs the bearer token; refuses an unsafe start.

    As for `serve`: loopback by default, any other address needs PAPERTRAIL_AUTH; with
    PAPERTRAIL_AUTH set, the MCP endpoint needs PAPERTRAIL_API_TOKEN as a bearer token."""
    from ui.app import is_loopback

    auth = bool(settings.credentials())
    if not auth and not is_loopback(host):
        raise PaperTrailError(
            f"refusing to serve MCP on {host} without sign-in (anyone who can reach it could "
            f"read the index); set PAPERTRAIL_AUTH and {TOKEN_ENV}, or serve on 127.0.0.1"
        )
    if auth and not token:
        raise PaperTrailError(
            f"PAPERTRAIL_AUTH is set, so the MCP HTTP endpoint needs a bearer token: "
            f"set {TOKEN_ENV}"
        )
    return auth


def serve_http(
    server: MCPServer, *, host: str, port: int, token: str | None, log_level: str = "warning"
) -> None:
    """Streamable HTTP on http://host:port/mcp until interrupted."""
    import uvicorn

    from ui.api import RATE_BURST, RATE_PER_SECOND, Bearer, RateLimit

    app: ASGIApp = server.streamable_http_app(host=host)
    if token:
        app = Bearer(app, token)  # the HTTP API's check: one place for the token rule
    app = RateLimit(app, RATE_PER_SECOND, RATE_BURST)  # as the HTTP API: per client address
    shown = f"[{host}]" if ":" in host else host
    print(
        f"PaperTrail MCP: serving http://{shown}:{port}/mcp"
        f"{' (bearer token required)' if token else ''} (Ctrl+C to stop)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level=log_level)


# -- the command ---------------------------------------------------------------------
def _cli() -> Any:
    import ui.cli

    return ui.cli


def mcp_command(
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP (at /mcp) instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to bind (--http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (--http).")] = 8765,
    allow_ingest: Annotated[
        bool,
        typer.Option("--allow-ingest", help="Offer the ingest tool (off: read-only server)."),
    ] = False,
    index_dir: Annotated[
        Path | None,
        typer.Option("--index-dir", help="Index folder. [env: PAPERTRAIL_INDEX_DIR]"),
    ] = None,
    chroma_url: Annotated[
        str | None,
        typer.Option("--chroma-url", help="Chroma server URL. [env: PAPERTRAIL_CHROMA_URL]"),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option("--collection", help="Collection name. [env: PAPERTRAIL_COLLECTION]"),
    ] = None,
    bundled: Annotated[
        bool, typer.Option(help="Index the bundled MSC article when the index is empty.")
    ] = True,
) -> None:
    """Serve the index to assistants over MCP (stdio; --http for streamable HTTP)."""
    cli = _cli()
    try:
        token = None
        if "api_token" not in Settings.model_fields:
            # Not a setting yet: read it, and keep Settings from refusing an unknown variable.
            token = os.environ.pop(TOKEN_ENV, None) or None
        settings = cli._settings(index_dir=index_dir, chroma_url=chroma_url, collection=collection)
        token = api_token(settings) or token
        required = check_http(host, settings, token) if http else False
        if http:
            from ui.app import check_port

            check_port(host, port)  # before the model loads
        # stdout is the protocol on stdio: whatever loading prints goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            engine = Engine.open(settings)
            if bundled:
                report = engine.ensure_bundled_corpus()
                for f in report.failed if report else []:
                    print(f"warning: bundled article not indexed: {f.error}", file=sys.stderr)
        engine.keep_writes_warm()
        server = build_server(engine, allow_ingest=allow_ingest)
    except PaperTrailError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ValueError as exc:  # invalid settings
        typer.echo(f"Error: invalid settings: {_one_line(exc)}", err=True)
        raise typer.Exit(1) from exc
    if http:
        serve_http(server, host=host, port=port, token=token if required else None)
    else:
        server.run("stdio")


def main(argv: Iterable[str] | None = None) -> None:
    """`python -m ui.mcp_server [OPTIONS]`: the same as `papertrail mcp`."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    app.command()(mcp_command)
    app(args=list(argv) if argv is not None else None, prog_name="papertrail-mcp")


if __name__ == "__main__":
    main()
