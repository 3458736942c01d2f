"""The `papertrail` command: build settings, call one function, print text or JSON."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from index.library import LibraryImport
from index.loaders import SUPPORTED_SUFFIXES
from index.settings import AnswerSettings, LLMSettings, RetrievalSettings
from rag import Answer, AnswerEvent, Engine, IngestReport, PaperTrailError, Settings
from rag.cite import EXPORT_FORMATS, byline, doi_url
from ui.render.common import count_of, weak_support_note

__all__ = ["app"]

app = typer.Typer(
    name="papertrail",
    help="Ask questions about scientific articles; every answer cites its passages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Rich markup ate "[env: ...]" and "[default: ...]" in help texts
)

P = ParamSpec("P")
R = TypeVar("R")


def _help(text: str, name: str, section: type[BaseModel] = Settings) -> str:
    """Help text with the setting's default and variable; the flag's own default is None
    (unset means "from the environment"), so Click cannot show the real one."""
    default = section.model_fields[name].default
    prefix = (
        "PAPERTRAIL_"
        + {
            Settings: "",
            RetrievalSettings: "RETRIEVAL__",
            AnswerSettings: "ANSWER__",
            LLMSettings: "LLM__",
        }[section]
    )
    shown = "unset" if default is None else str(default)
    return f"{text} [default: {shown}; env: {prefix}{name.upper()}]"


IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help=_help("Index folder.", "index_dir"))
]
ChromaUrl = Annotated[
    str | None,
    typer.Option(
        "--chroma-url", help=_help("Chroma server URL (unset: embedded store).", "chroma_url")
    ),
]
Collection = Annotated[
    str | None, typer.Option("--collection", help=_help("Collection name.", "collection"))
]
EmbedModel = Annotated[
    str | None,
    typer.Option("--embed-model", help=_help("sentence-transformers model.", "embed_model")),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


class AnswerMode(StrEnum):
    extractive = "extractive"
    generative = "generative"


class Unsupported(StrEnum):
    flag = "flag"
    remove = "remove"


class LlmChoice(StrEnum):
    local = "local"


class JudgeChoice(StrEnum):
    local = "local"
    on = "on"
    off = "off"


Mode = Annotated[
    AnswerMode | None,
    typer.Option(
        "--answer-mode",
        help=_help(
            "extractive quotes sentences (no LLM); generative has the LLM write the answer "
            "and checks each sentence.",
            "mode",
            AnswerSettings,
        ),
    ),
]
LlmUrl = Annotated[
    str | None,
    typer.Option(
        "--llm-url",
        help=_help(
            "OpenAI-compatible API root (Ollama: http://127.0.0.1:11434/v1). The API key is "
            "read from PAPERTRAIL_LLM__API_KEY only.",
            "base_url",
            LLMSettings,
        ),
    ),
]
LlmModel = Annotated[
    str | None,
    typer.Option("--llm-model", help=_help("Model the endpoint serves.", "model", LLMSettings)),
]
LlmFlag = Annotated[
    LlmChoice | None,
    typer.Option(
        "--llm",
        help="local: the local model (Qwen2.5-Coder-1.5B-Instruct, installed by make run-llm) "
        "writes the answer, judged and checked sentence by sentence; implies --answer-mode "
        "generative. [env: PAPERTRAIL_LLM__LOCAL]",
    ),
]
JudgeFlag = Annotated[
    JudgeChoice | None,
    typer.Option(
        "--judge",
        help=_help(
            "local: the local model judges whether the passages answer the question, for "
            "extractive answers too; on: the configured LLM does; off: the support score alone.",
            "judge",
            AnswerSettings,
        ),
    ),
]
UnsupportedFlag = Annotated[
    Unsupported | None,
    typer.Option(
        "--unsupported",
        help=_help(
            "Generated sentences the sources do not support: flagged or removed.",
            "unsupported",
            AnswerSettings,
        ),
    ),
]


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
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (.pdf .txt .md .html).")
    ] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    embed_model: EmbedModel = None,
    replace: Annotated[
        str | None,
        typer.Option(
            "--replace",
            metavar="DOC_ID",
            help="Put the one file given in place of this document, under its id (e.g. the "
            "published version of a preprint saved under another name).",
        ),
    ] = None,
    ocr: Annotated[
        str | None,
        typer.Option(
            "--ocr",
            metavar="MODE",
            help="OCR scanned PDF pages with Tesseract: auto (pages with no usable text "
            "layer), always, or never. [env: PAPERTRAIL_OCR__MODE; default: auto]",
        ),
    ] = None,
    ocr_lang: Annotated[
        str | None,
        typer.Option(
            "--ocr-lang",
            metavar="LANGS",
            help="Tesseract languages, e.g. eng+deu (Debian: tesseract-ocr-deu). "
            "[env: PAPERTRAIL_OCR__LANG; default: eng]",
        ),
    ] = None,
    zotero: Annotated[
        Path | None,
        typer.Option(
            "--zotero",
            metavar="DIR",
            help="A Zotero data folder (zotero.sqlite and storage/), read-only, also while "
            "Zotero runs; again later, only added, changed and deleted items are indexed.",
        ),
    ] = None,
    bib: Annotated[
        Path | None,
        typer.Option("--bib", metavar="FILE", help="A BibTeX export whose file fields name PDFs."),
    ] = None,
    ris: Annotated[
        Path | None,
        typer.Option("--ris", metavar="FILE", help="A RIS export whose L1 fields name PDFs."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Index files or a reference manager's library; unchanged files are skipped."""
    libraries = [(k, p) for k, p in (("zotero", zotero), ("bibtex", bib), ("ris", ris)) if p]
    if not paths and not libraries:
        raise PaperTrailError("name files or folders, or a library with --zotero, --bib or --ris")
    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    if ocr is not None:
        if ocr not in ("auto", "always", "never"):
            raise PaperTrailError(f"--ocr must be auto, always or never, not {ocr!r}")
        settings.ocr.mode = ocr  # type: ignore[assignment]
    if ocr_lang is not None:
        settings.ocr.lang = ocr_lang
    engine = Engine.open(settings)
    imports = [
        engine.ingest_library(kind, where, show_progress=not as_json)  # type: ignore[arg-type]
        for kind, where in libraries
    ]
    failed = any(i.report.failed for i in imports)
    if not paths:
        if as_json:
            _print_json(imports)
        for i in imports if not as_json else []:
            _print_library(i)
        if failed:
            raise typer.Exit(1)
        return
    report = engine.ingest(paths, show_progress=not as_json, replace=replace)
    if as_json:
        _print_json([*imports, report] if imports else report)
    else:
        for i in imports:
            _print_library(i)
        _print_report(report)
        skipped = _unsupported_in(paths)
        if skipped:
            typer.echo(
                f"skipped {count_of(len(skipped), 'file')} of an unsupported type "
                f"({' '.join(SUPPORTED_SUFFIXES)} are read): " + ", ".join(map(str, skipped)),
                err=True,
            )
    if report.failed or failed:
        raise typer.Exit(1)


def _print_library(i: LibraryImport) -> None:
    typer.echo(
        f"{i.kind} {i.path}: {count_of(i.items, 'item')}; {len(i.added)} added, "
        f"{len(i.changed)} changed, {len(i.deleted)} deleted, {i.unchanged} unchanged, "
        f"{i.without_files} without a file (kept to match loose PDFs)"
    )
    for line in i.problems:
        typer.echo(f"  problem: {line}", err=True)
    if i.report.files:
        _print_report(i.report)
    for doc_id in i.removed:
        typer.echo(f"removed    {doc_id} (deleted from the library)")


def _print_report(report: IngestReport) -> None:
    for f in report.files:
        if f.status == "failed":
            typer.echo(f"failed     {f.error}", err=True)
            continue
        typer.echo(
            f"{f.status:<10} {f.path} ({count_of(f.chunks, 'chunk')})"
            if f.chunks
            else f"{f.status:<10} {f.path}"
        )
        for w in f.warnings:
            typer.echo(f"  warning: {f.path}: {w.message}", err=True)
    typer.echo(
        f"{count_of(report.stored_chunks, 'chunk')} of {count_of(len(report.stored), 'document')}"
        " stored" + (f"; {count_of(len(report.failed), 'file')} failed" if report.failed else "")
    )


def _unsupported_in(paths: list[Path]) -> list[Path]:
    """Files inside the given folders that ingest passes over (index.loaders.expand_paths
    reads only supported types); named here so that a .png does not vanish without a word."""
    return [
        f
        for p in paths
        if p.is_dir()
        for f in sorted(p.rglob("*"))
        if f.is_file()
        and f.suffix.lower() not in SUPPORTED_SUFFIXES
        and not f.name.endswith(".meta.json")  # a title sidecar, read with its document
        and not any(part.startswith(".") for part in f.relative_to(p).parts)
    ]


@app.command()
@_domain_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about the indexed documents.")],
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", help=_help("Passages to retrieve.", "top_k", RetrievalSettings)),
    ] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    embed_model: EmbedModel = None,
    as_json: AsJson = False,
    bundled: Annotated[
        bool, typer.Option(help="Index the bundled MSC article when the index is empty.")
    ] = True,
    answer_mode: Mode = None,
    llm_url: LlmUrl = None,
    llm_model: LlmModel = None,
    unsupported: UnsupportedFlag = None,
    llm: LlmFlag = None,
    judge: JudgeFlag = None,
    within: Annotated[
        list[str] | None,
        typer.Option(
            "--in",
            metavar="COLLECTION",
            help="Only documents filed in this reference-manager collection (or one inside "
            "it), e.g. --in 'Thesis/Chapter 2'; repeatable.",
        ),
    ] = None,
    cite: Annotated[
        str | None,
        typer.Option(
            "--cite",
            metavar="FORMAT",
            help="Print the cited works instead, as bibtex, ris or csl-json, with the pages cited.",
        ),
    ] = None,
) -> None:
    """Answer a question with numbered citations."""
    if cite is not None and cite not in EXPORT_FORMATS:
        raise PaperTrailError(f"--cite must be one of {', '.join(EXPORT_FORMATS)}, not {cite!r}")
    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    if top_k is not None:
        settings.retrieval = RetrievalSettings(
            **{**settings.retrieval.model_dump(), "top_k": top_k}
        )
    _answer_flags(settings, answer_mode, llm_url, llm_model, unsupported, llm, judge)
    engine = Engine.open(settings)
    if bundled:  # as `serve` does: a fresh install answers about the bundled article
        engine.ensure_bundled_corpus()
    if not engine.documents():
        raise PaperTrailError("nothing is indexed; add documents with `papertrail ingest PATH`")
    doc_ids = engine.filed_in(within) if within else None
    if within and not doc_ids:
        raise PaperTrailError(f"no document is filed in {' or '.join(map(repr, within))}")
    live = _Live() if not as_json and cite is None and sys.stderr.isatty() else None
    answer = _final(engine.ask_stream(question, doc_ids=doc_ids), live)
    if cite is not None:
        typer.echo(engine.cited_works(answer, cite), nl=False)  # type: ignore[arg-type]
    elif as_json:
        _print_json(answer)
    else:
        typer.echo(format_answer(answer))


def _answer_flags(
    settings: Settings,
    mode: AnswerMode | None,
    llm_url: str | None,
    llm_model: str | None,
    unsupported: Unsupported | None,
    llm: LlmChoice | None = None,
    judge: JudgeChoice | None = None,
) -> None:
    """The answer and LLM flags over the environment's settings (validated)."""
    if llm is LlmChoice.local and mode is None:
        mode = AnswerMode.generative
    answer = {"mode": mode and mode.value, "unsupported": unsupported and unsupported.value}
    if judge is not None:
        answer["judge"] = "on" if judge is JudgeChoice.local else judge.value
    answer = {k: v for k, v in answer.items() if v is not None}
    if answer:
        settings.answer = AnswerSettings(**{**settings.answer.model_dump(), **answer})
    local = llm is LlmChoice.local or judge is JudgeChoice.local
    chosen: dict[str, Any] = {"base_url": llm_url, "model": llm_model, "local": local or None}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if chosen:
        settings.llm = LLMSettings(**{**dict(settings.llm), **chosen})


def _final(events: Any, live: _Live | None) -> Answer:
    """The last event's answer; the generated text is shown live on a terminal meanwhile."""
    last: AnswerEvent | None = None
    for event in events:
        last = event
        if live and event.kind == "delta":
            live.write(event.text)
    if live:
        live.clear()
    assert last is not None
    return last.answer


class _Live:
    """The answer as it is written, on stderr; wiped once the checked answer is printed."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, delta: str) -> None:
        self.text += delta
        sys.stderr.write(delta)
        sys.stderr.flush()

    def clear(self) -> None:
        if not self.text:
            return
        width = max(shutil.get_terminal_size().columns, 20)
        rows = sum(max(1, -(-len(line) // width)) for line in self.text.split("\n"))
        # Back to the first row written, then erase to the end of the screen.
        sys.stderr.write("\r" + (f"\x1b[{rows - 1}F" if rows > 1 else "") + "\x1b[J")
        sys.stderr.flush()


_VERDICT_MARKS = {"supported": "✓", "weak": "~", "unsupported": "✗", "uncited": "?"}


def format_answer(answer: Answer) -> str:
    lines = []
    if answer.searched:
        lines.append(f"Searched: {answer.searched}")
    if answer.notice:
        lines.append(f"Note: {answer.notice}")
    if weak := weak_support_note(answer):
        lines.append(f"Note: {weak}")
    lines += [answer.answer, ""]
    if answer.mode == "generative" and answer.claims:
        lines.append("Checked against the sources:")
        for claim in answer.claims:
            removed = " (removed)" if claim.start == claim.end else ""
            lines.append(f"{_VERDICT_MARKS[claim.verdict]} {claim.verdict}{removed}: {claim.text}")
            if claim.reason:
                lines.append(f"    {claim.reason}")
        lines.append("")
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            where = ", ".join(
                x
                for x in (
                    c.reference or c.title,
                    f"p. {c.page_label or c.page}",
                    c.section and f"§ {c.section}",
                )
                if x
            )
            link = f" {doi_url(c.doi)}" if c.doi else ""
            scanned = " (OCR)" if c.ocr else ""  # read from a scan: check it on the page
            lines.append(f"[{c.n}] {where}{link}\n    “{c.quote}”{scanned}")
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
        return
    rows = [("ID", "TITLE", "PAGES", "CHUNKS", "ADDED", "")]
    rows += [
        (
            d.doc_id,
            f"{by} · {d.title}" if (by := byline(d.metadata)) else d.title,
            str(d.pages),
            str(d.chunks),
            d.ingested_at[:16].replace("T", " "),  # stored as ISO 8601 UTC; --json has it whole
            f"duplicate of {d.duplicate_of}" if d.duplicate_of else "",
        )
        for d in docs
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    # A journal title runs to 200 characters: the title column takes what the terminal leaves.
    room = shutil.get_terminal_size((120, 24)).columns - sum(widths) + widths[1] - 2 * 4
    if widths[1] > max(room, 24):
        widths[1] = max(room, 24)
        rows = [(r[0], _clip(r[1], widths[1]), *r[2:]) for r in rows]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[2].rjust(widths[2]), r[3].rjust(widths[3]), r[4]]
        typer.echo("  ".join(cells + ([r[5]] if r[5] else [])))


@app.command()
@_domain_errors
def meta(
    doc_id: Annotated[str, typer.Argument(help="Document id, as shown by `papertrail list`.")],
    title: Annotated[str | None, typer.Option(help="The work's title.")] = None,
    authors: Annotated[
        str | None, typer.Option(help="Authors, 'Family, Given; Family, Given'.")
    ] = None,
    year: Annotated[int | None, typer.Option(help="Year of publication.")] = None,
    venue: Annotated[str | None, typer.Option(help="Journal, proceedings or book.")] = None,
    volume: Annotated[str | None, typer.Option()] = None,
    issue: Annotated[str | None, typer.Option()] = None,
    pages: Annotated[str | None, typer.Option(help="'305-313' or an article number.")] = None,
    doi: Annotated[str | None, typer.Option(help="Bare DOI, 10.xxxx/...")] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    collection: Collection = None,
    as_json: AsJson = False,
) -> None:
    """Show a document's bibliographic fields and where each came from; correct them (no
    re-indexing: a correction wins over the library's record and the file's own)."""
    from index.names import creator_from_name

    settings = _settings(index_dir=index_dir, chroma_url=chroma_url, collection=collection)
    engine = Engine.open(settings)
    fields: dict[str, object] = {
        name: value
        for name, value in (
            ("title", title), ("year", year), ("venue", venue), ("volume", volume),
            ("issue", issue), ("pages", pages), ("doi", doi),
        )
        if value is not None
    }  # fmt: skip
    if authors is not None:
        fields["creators"] = [creator_from_name(a.strip()) for a in authors.split(";") if a.strip()]
    if fields:
        info = engine.set_metadata(doc_id, **fields)
    else:
        info = next((d for d in engine.documents() if d.doc_id == doc_id), None)
        if info is None:
            raise PaperTrailError(f"no document {doc_id!r} in the index")
    if as_json:
        _print_json(info)
        return
    m = info.metadata
    if m is None:
        typer.echo(f"{doc_id}: no bibliographic fields yet")
        return
    for name in ("title", "creators", "year", "venue", "volume", "issue", "pages", "doi",
                 "arxiv", "pmid", "licence", "url"):  # fmt: skip
        value = getattr(m, name)
        if value in (None, "", []):
            continue
        shown = "; ".join(c.display for c in value) if name == "creators" else str(value)
        typer.echo(f"{name:<9} {shown}  [{m.sources.get(name, '?')}]")
    if info.collections:
        typer.echo(f"{'filed in':<9} {', '.join(info.collections)}")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


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
        typer.echo(f"ok: {count_of(report.documents, 'document')}, no orphaned records")
    else:
        verb = "cleared" if report.repaired else "found (not cleared: --dry-run)"
        typer.echo(
            f"{verb} {count_of(report.orphaned_chunks, 'chunk')} and "
            f"{count_of(report.orphaned_sentence_records, 'sentence record')} of "
            f"{count_of(len(report.orphaned_documents), 'unregistered document')}: "
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
    answer_mode: Mode = None,
    llm_url: LlmUrl = None,
    llm_model: LlmModel = None,
    unsupported: UnsupportedFlag = None,
    llm: LlmFlag = None,
    judge: JudgeFlag = None,
) -> None:
    """Serve the chat UI; any address but loopback needs PAPERTRAIL_AUTH."""
    from ui.app import serve as serve_app

    settings = _settings(
        index_dir=index_dir, chroma_url=chroma_url, collection=collection, embed_model=embed_model
    )
    _answer_flags(settings, answer_mode, llm_url, llm_model, unsupported, llm, judge)
    if settings.llm.local is None and not settings.llm.base_url:
        from rag.local_model import installed

        # An installed local model is offered per question; answers stay extractive.
        settings.llm = settings.llm.model_copy(update={"local": installed(settings.local_model)})
    if settings.llm.local and settings.answer.mode == "generative":
        _warm_up(settings)
    serve_app(settings, host=host, port=port, bundled=bundled)


def _warm_up(settings: Settings) -> None:
    """Start the local model's server while the app starts, so the first question does not
    wait for it; a failure is said when a question needs the model."""
    import threading

    from rag.local_model import local_server

    def start() -> None:
        try:
            local_server(settings.local_model).url()
        except PaperTrailError:
            pass

    threading.Thread(target=start, name="local-model", daemon=True).start()


@app.command("local-model")
@_domain_errors
def local_model(
    start: Annotated[
        bool, typer.Option("--start", help="Also start its server once and time a reply.")
    ] = False,
) -> None:
    """Assemble and check the local model (once), and say what runs it."""
    import time

    from rag.local_model import MODEL, assemble, local_server, server_python

    settings = Settings()
    shown = -1

    def progress(done: int, total: int) -> None:
        nonlocal shown
        if sys.stderr.isatty() and done * 10 // total != shown:
            shown = done * 10 // total
            sys.stderr.write(f"\rassembling {MODEL.file}: {done * 100 // total}%")
            sys.stderr.flush()

    path = assemble(settings.local_model.cache_dir, progress=progress)
    if shown >= 0:
        sys.stderr.write("\n")
    typer.echo(f"{MODEL.name}: {path} ({MODEL.size:,} bytes, SHA-256 {MODEL.sha256})")
    typer.echo(f"server: {server_python(settings.local_model)} -m llama_cpp.server")
    if start:
        server = local_server(settings.local_model)
        began = time.monotonic()
        url = server.url()
        seconds = time.monotonic() - began
        typer.echo(f"started at {url} in {seconds:.1f} s (log: {server.log_path})")
        server.stop()


def main() -> None:
    """Console entry point; no network here, so no telemetry or analytics."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


from eval.cli import eval_command  # noqa: E402  (cheap: the evaluation loads when it runs)

app.command("eval")(eval_command)


@app.command(
    "mcp",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
    help="Serve the index to assistants over MCP (stdio; --http for streamable HTTP). "
    "--help lists its options.",
)
def mcp(ctx: typer.Context) -> None:
    # The MCP SDK costs 0.4 s to import (measured): loaded for this command only.
    from ui.mcp_server import mcp_command

    command = typer.Typer(add_completion=False)
    command.command()(mcp_command)
    typer.main.get_command(command).main(list(ctx.args), prog_name="papertrail mcp")


if __name__ == "__main__":
    main()
