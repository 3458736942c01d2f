"""What each interface adds over a direct `Engine.ask`, measured side by side in one run (#28).

    .venv/bin/python -m eval.bench.interfaces                 # every interface, n=50
    .venv/bin/python -m eval.bench.interfaces --only mcp -n 100
    .venv/bin/python -m eval.bench.interfaces --only http --only http_openai

Each interface is a function `<name>_overhead(n, index_dir) -> dict` in this module (found by
its name, so adding one is adding a function); it alternates calls through the interface with
direct `Engine.ask` calls on the same index and questions, and reports p50/p95 of both and of
their difference. The goal: MCP and HTTP add <= 20 ms at p50.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["QUESTIONS", "http_openai_overhead", "http_overhead", "main", "mcp_overhead"]

QUESTIONS = (
    "What are the barriers to MSC standardisation?",
    "How do MSCs modulate T cells?",
    "Which autoimmune diseases have MSCs been tested in?",
    "What are the sources of MSCs?",
    "Is MSC therapy safe?",
)
ROOT = Path(__file__).resolve().parents[2]


def _quantiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2)}


def _engine(index_dir: Path) -> Any:
    from rag import Engine, Settings

    engine = Engine.open(Settings(index_dir=index_dir))
    engine.ensure_bundled_corpus()
    return engine


# -- MCP ---------------------------------------------------------------------------
def mcp_overhead(n: int = 50, index_dir: Path | None = None) -> dict[str, Any]:
    """`ask` over MCP stdio (the SDK's client, `python -m ui.mcp_server` in a subprocess)
    against `Engine.ask` in this process, alternating, after one warm-up call of each."""
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    index_dir = index_dir or Path(tempfile.mkdtemp(prefix="bench-mcp-")) / "index"
    engine = _engine(index_dir)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ui.mcp_server", "--index-dir", str(index_dir)],
        env={
            "PAPERTRAIL_LLM__LOCAL": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "PYTHONPATH": str(ROOT),
        },
        cwd=str(ROOT),
    )
    direct: list[float] = []
    over: list[float] = []

    async def run() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            for i in range(n + 1):
                q = QUESTIONS[i % len(QUESTIONS)]
                t = time.perf_counter()
                result = await client.call_tool("ask", {"question": q})
                took_mcp = (time.perf_counter() - t) * 1000
                assert not result.is_error, result.content
                t = time.perf_counter()
                engine.ask(q)
                took_direct = (time.perf_counter() - t) * 1000
                if i:  # the first of each warms caches
                    over.append(took_mcp)
                    direct.append(took_direct)

    anyio.run(run)
    return _report("mcp (stdio)", n, direct, over)


# -- HTTP (ui/api.py) ------------------------------------------------------------------
@contextmanager
def _served_api(engine: Any) -> Iterator[str]:
    """The app `papertrail serve` runs (Gradio UI, API mounted on the same port) in this
    process on a free loopback port, on `engine`. The rate limit is raised so that the
    run is not slowed by it; its check still runs on every request."""
    import socket

    from ui.api import api_app
    from ui.app import build_app, launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(engine)
    api = api_app(engine, rate_per_second=1e6, rate_burst=1_000_000)
    launch(demo, port=port, block=False, pages_dir=engine.pages_dir, api=api)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def _alternate(
    n: int, engine: Any, through: Callable[[str], object]
) -> tuple[list[float], list[float]]:
    """(direct ms, interface ms): `through(q)` and `engine.ask(q)` alternately, the first
    of each a warm-up."""
    direct: list[float] = []
    over: list[float] = []
    for i in range(n + 1):
        q = QUESTIONS[i % len(QUESTIONS)]
        t = time.perf_counter()
        through(q)
        took = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        engine.ask(q)
        took_direct = (time.perf_counter() - t) * 1000
        if i:
            over.append(took)
            direct.append(took_direct)
    return direct, over


def http_overhead(n: int = 50, index_dir: Path | None = None) -> dict[str, Any]:
    """POST /api/v1/ask (httpx, one keep-alive connection) on the served app against
    `Engine.ask` on the same engine, alternating."""
    import httpx

    index_dir = index_dir or Path(tempfile.mkdtemp(prefix="bench-http-")) / "index"
    engine = _engine(index_dir)
    with _served_api(engine) as url, httpx.Client(base_url=url, timeout=120) as client:

        def ask(q: str) -> object:
            response = client.post("/api/v1/ask", json={"question": q})
            response.raise_for_status()
            assert response.json()["question"] == q
            return response

        direct, over = _alternate(n, engine, ask)
    return _report("http /api/v1/ask", n, direct, over)


def http_openai_overhead(n: int = 50, index_dir: Path | None = None) -> dict[str, Any]:
    """POST /v1/chat/completions through the `openai` client (non-streaming) on the served
    app against `Engine.ask` on the same engine, alternating."""
    from openai import OpenAI

    index_dir = index_dir or Path(tempfile.mkdtemp(prefix="bench-openai-")) / "index"
    engine = _engine(index_dir)
    with _served_api(engine) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)

        def ask(q: str) -> object:
            completion = client.chat.completions.create(
                model="papertrail", messages=[{"role": "user", "content": q}]
            )
            assert completion.choices[0].message.content
            return completion

        direct, over = _alternate(n, engine, ask)
    return _report("openai client", n, direct, over)


def _report(name: str, n: int, direct: list[float], through: list[float]) -> dict[str, Any]:
    added = [t - d for t, d in zip(through, direct, strict=True)]
    return {
        "interface": name,
        "n": n,
        "direct_ms": _quantiles(direct),
        "interface_ms": _quantiles(through),
        "added_ms": {
            "p50": round(_quantiles(through)["p50"] - _quantiles(direct)["p50"], 2),
            "p95": round(_quantiles(through)["p95"] - _quantiles(direct)["p95"], 2),
            "paired_p50": _quantiles(added)["p50"],
        },
    }


# -- the command -------------------------------------------------------------------
def _interfaces() -> dict[str, Callable[..., dict[str, Any]]]:
    return {
        name.removesuffix("_overhead"): fn
        for name, fn in globals().items()
        if name.endswith("_overhead") and callable(fn)
    }


def bench(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Interfaces to measure (repeatable).")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=5, help="Questions per interface.")] = 50,
    index_dir: Annotated[
        Path | None, typer.Option(help="An index to use (default: the bundled article, fresh).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output file.")] = Path(
        "eval-out/bench/interfaces.json"
    ),
) -> None:
    """Measure each interface's overhead over a direct Engine.ask."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PAPERTRAIL_LLM__LOCAL", "false")
    known = _interfaces()
    chosen = only or list(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise typer.BadParameter(f"unknown interface(s) {unknown}; known: {sorted(known)}")
    rows = [known[c](n, index_dir) for c in chosen]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": date.today().isoformat(), "results": rows}, indent=2))
    print(f"{'interface':<16}{'direct p50/p95':>18}{'interface p50/p95':>21}{'added p50':>12}")
    for r in rows:
        d, t = r["direct_ms"], r["interface_ms"]
        print(
            f"{r['interface']:<16}{d['p50']:>9.1f}/{d['p95']:<8.1f}{t['p50']:>11.1f}/"
            f"{t['p95']:<9.1f}{r['added_ms']['p50']:>10.1f} ms  (paired "
            f"{r['added_ms']['paired_p50']:.1f} ms, n={r['n']})"
        )
    print(f"written to {out}")


def main() -> None:
    typer.run(bench)


if __name__ == "__main__":
    main()
