"""The `papertrail` command: build settings, call one function, print text or JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from index.settings import RetrievalSettings
from rag import Answer, Engine, IngestReport, PaperTrailError, Settings

__all__ = ["app"]

app = typer.Typer(
    name="papertrail",
    help="Ask questions about scientific articles; every answer cites its passages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

P = ParamSpec("P")
R = TypeVar("R")

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index folder [env: PAPERTRAIL_INDEX_DIR].")
]
ChromaUrl = Annotated[
    str | None, typer.Option("--chroma-url", help="Chroma server URL [env: PAPERTRAIL_CHROMA_URL].")
]
Collection = Annotated[
    str | None, typer.Option("--collection", help="Collection name [env: PAPERTRAIL_COLLECTION].")
]
EmbedModel = Annotated[
    str | None,
    typer.Option(
        "--embed-model", help="sentence-transformers model [env: PAPERTRAIL_EMBED_MODEL]."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _settings(**overrides: Any) -> Settings:
    """Environment first, then the flags that were given."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


def _domain_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a domain or settings error into a one-line message and exit code 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PaperTrailError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc
        except ValidationError as exc:
            problems = "; ".join(
                ": ".join(
                    x
                    for x in (".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, "))
                    if x
                )
                for e in exc.errors()
            )
            typer.echo(f"Error: invalid settings: {problems}", err=True)
            raise typer.Exit(1) from exc

    return wrapper


def _print_json(model: BaseModel | list[BaseModel]) -> None:
    if isinstance(model, list):
        typer.echo(json.dumps([m.model_dump(mode="json") for m in model], indent=2))
    else:
        typer.echo(model.model_dump_json(indent=2))


@app.command()
@_domain_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.pdf .txt .md .html).")],
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    embed_model: EmbedModel = None,
    as_json: AsJson = False,
) -> None:
    """Index files; unchanged files are skipped, changed ones replaced."""
    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    report = Engine.open(settings).ingest(paths, show_progress=not as_json)
    if as_json:
        _print_json(report)
    else:
        _print_report(report)
    if report.failed:
        raise typer.Exit(1)


def _print_report(report: IngestReport) -> None:
    for f in report.files:
        if f.status == "failed":
            typer.echo(f"failed     {f.error}", err=True)
            continue
        typer.echo(
            f"{f.status:<10} {f.path} ({f.chunks} chunks)"
            if f.chunks
            else f"{f.status:<10} {f.path}"
        )
        for w in f.warnings:
            typer.echo(f"  warning: {f.path}: {w.message}", err=True)
    stored = sum(f.status in ("indexed", "replaced") for f in report.files)
    typer.echo(
        f"{report.embedded_sentences} sentences embedded; {report.stored_chunks} chunks of "
        f"{stored} document{'s' if stored != 1 else ''} stored"
        + (f"; {len(report.failed)} file(s) failed" if report.failed else "")
    )


@app.command()
@_domain_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about the indexed documents.")],
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to retrieve.")] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    embed_model: EmbedModel = None,
    as_json: AsJson = False,
    bundled: Annotated[
        bool, typer.Option(help="Index the bundled MSC article when the index is empty.")
    ] = True,
) -> None:
    """Answer a question with numbered citations."""
    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    if top_k is not None:
        settings.retrieval = RetrievalSettings(
            **{**settings.retrieval.model_dump(), "top_k": top_k}
        )
    engine = Engine.open(settings)
    if bundled:  # as `serve` does: a fresh install answers about the bundled article
        engine.ensure_bundled_corpus()
    answer = engine.ask(question)
    if as_json:
        _print_json(answer)
    else:
        typer.echo(format_answer(answer))


def format_answer(answer: Answer) -> str:
    lines = [answer.answer, ""]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            where = ", ".join(
                x
                for x in (c.title, f"p. {c.page_label or c.page}", c.section and f"§ {c.section}")
                if x
            )
            lines.append(f"[{c.n}] {where}\n    “{c.quote}”")
    elif not answer.passages:
        lines.append("No documents are indexed; add some with `papertrail ingest PATH`.")
    else:
        lines.append("Closest passages (not sufficient to answer):")
        for i, p in enumerate(answer.passages, start=1):
            snippet = " ".join(p.text.split())[:160]
            lines.append(f"({i}) {p.title}, p. {p.page_label or p.page}: {snippet}…")
    return "\n".join(lines)


@app.command("list")
@_domain_errors
def list_documents(
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    as_json: AsJson = False,
) -> None:
    """List the indexed documents."""
    from index.store import open_store

    settings = _settings(index_dir=index_dir, chroma_url=chroma_url, collection=collection)
    docs = open_store(settings).documents()
    if as_json:
        _print_json(list(docs))
        return
    if not docs:
        typer.echo("No documents indexed yet. Add some with: papertrail ingest PATH")
    for d in docs:
        copy = f"\tduplicate of {d.duplicate_of}" if d.duplicate_of else ""
        typer.echo(
            f"{d.doc_id}\t{d.title}\t{d.pages} pages\t{d.chunks} chunks\t{d.ingested_at}{copy}"
        )


@app.command()
@_domain_errors
def remove(
    doc_id: Annotated[str, typer.Argument(help="Document id, as shown by `papertrail list`.")],
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
) -> None:
    """Remove a document and its chunks (or the leftovers of one with no registry entry)."""
    from index.store import open_store

    settings = _settings(index_dir=index_dir, chroma_url=chroma_url, collection=collection)
    if not open_store(settings).remove(doc_id):
        raise PaperTrailError(f"no document with id {doc_id!r}; see `papertrail list`")
    typer.echo(f"removed {doc_id}")


@app.command()
@_domain_errors
def doctor(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; delete nothing.")
    ] = False,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    as_json: AsJson = False,
) -> None:
    """Find and clear records of documents that have no registry entry."""
    from index.store import open_store

    settings = _settings(index_dir=index_dir, chroma_url=chroma_url, collection=collection)
    report = open_store(settings).doctor(repair=not dry_run)
    if as_json:
        _print_json(report)
        return
    if not report.orphaned_documents:
        typer.echo(f"ok: {report.documents} document(s), no orphaned records")
    else:
        verb = "cleared" if report.repaired else "found (not cleared: --dry-run)"
        typer.echo(
            f"{verb} {report.orphaned_chunks} chunk(s) and {report.orphaned_sentence_records} "
            f"sentence record(s) of {len(report.orphaned_documents)} unregistered document(s): "
            + ", ".join(report.orphaned_documents)
        )
    if report.writes_in_progress:
        typer.echo(f"left alone, being written: {', '.join(report.writes_in_progress)}")


@app.command()
@_domain_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    bundled: Annotated[
        bool, typer.Option(help="Index the bundled MSC article when the index is empty.")
    ] = True,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    embed_model: EmbedModel = None,
) -> None:
    """Serve the chat UI; any address but loopback needs PAPERTRAIL_AUTH."""
    from ui.app import serve as serve_app

    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    serve_app(settings, host=host, port=port, bundled=bundled)


def main() -> None:
    """Console entry point; no network here, so no telemetry or analytics."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


from eval.cli import eval_command  # noqa: E402  (cheap: the evaluation loads when it runs)

app.command("eval")(eval_command)


if __name__ == "__main__":
    main()
