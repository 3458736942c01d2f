"""Load test: N chat sessions of M questions each against `papertrail serve`, on loopback.

    python -m eval.bench.load [--sessions 20] [--questions 5] [--index-dir DIR]

Starts `papertrail serve` on a free 127.0.0.1 port (bundled article), asks one warm-up
question, reads the server's RSS, then runs the sessions side by side, each asking its
questions one after another through Gradio's HTTP API (its own session, so follow-ups
see their history). Prints errors, latency p50/p95 and server RSS before and after, and
exits 1 when a goal is missed (0 errors, p95 <= 1 s, RSS growth <= 50 MB).

Bounded on purpose: at most 50 sessions x 20 questions, a 60 s timeout per answer, and
only a server this command started, on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

__all__ = ["LoadResult", "main", "run"]

QUESTIONS = (
    "What are the barriers to MSC standardisation?",
    "Where are MSCs obtained from?",
    "How could MSCs help in systemic lupus erythematosus?",
    "What legal and ethical issues affect MSC therapy?",
    "What about their cost?",
    "Which cytokines do MSCs secrete?",
    "What MSC dose was used in the phase III multiple sclerosis trial?",
)
GOALS = {"errors": 0, "p95_s": 1.0, "rss_growth_mb": 50.0}
_MAX_SESSIONS, _MAX_QUESTIONS, _TIMEOUT_S = 50, 20, 60.0


@dataclass
class LoadResult:
    sessions: int
    questions: int
    answers: int
    errors: list[str]
    p50_s: float
    p95_s: float
    max_s: float
    wall_s: float
    rss_before_mb: float
    rss_after_mb: float
    server_cpu_s: float = 0.0  # CPU the server and the load generator spent, to show
    client_cpu_s: float = 0.0  # which one the 2 shared cores were busy with

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb

    def missed_goals(self) -> list[str]:
        missed = []
        if len(self.errors) > GOALS["errors"]:
            missed.append(f"{len(self.errors)} errors")
        if self.p95_s > GOALS["p95_s"]:
            missed.append(f"p95 {self.p95_s:.2f} s > {GOALS['p95_s']} s")
        if self.rss_growth_mb > GOALS["rss_growth_mb"]:
            missed.append(f"RSS grew {self.rss_growth_mb:.0f} MB > {GOALS['rss_growth_mb']} MB")
        return missed


def run(sessions: int, questions: int, index_dir: Path) -> LoadResult:
    """Serve, warm up, measure; the server is stopped before this returns."""
    if not (1 <= sessions <= _MAX_SESSIONS and 1 <= questions <= _MAX_QUESTIONS):
        raise SystemExit(
            f"--sessions must be 1..{_MAX_SESSIONS} and --questions 1..{_MAX_QUESTIONS}"
        )
    with _served(index_dir) as (url, pid):
        return asyncio.run(_load(url, pid, sessions, questions))


async def _load(url: str, pid: int, sessions: int, questions: int) -> LoadResult:
    limits = httpx.Limits(max_connections=2 * sessions + 2)
    async with httpx.AsyncClient(base_url=url, timeout=_TIMEOUT_S, limits=limits) as http:
        chat = await _ChatEndpoint.find(http)
        await _ask_session(chat, [QUESTIONS[0]], [], [])  # warm-up: caches built, first answer
        before, server_cpu0, client_cpu0 = _rss_mb(pid), _cpu_s(pid), time.process_time()
        latencies: list[float] = []
        errors: list[str] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _ask_session(chat, _session_questions(i, questions), latencies, errors)
                for i in range(sessions)
            )
        )
        wall = time.perf_counter() - start
        after, server_cpu, client_cpu = _rss_mb(pid), _cpu_s(pid), time.process_time()
    lat = np.array(latencies or [float("nan")])
    return LoadResult(
        sessions=sessions,
        questions=questions,
        answers=len(latencies),
        errors=errors,
        p50_s=round(float(np.percentile(lat, 50)), 3),
        p95_s=round(float(np.percentile(lat, 95)), 3),
        max_s=round(float(lat.max()), 3),
        wall_s=round(wall, 1),
        rss_before_mb=round(before, 1),
        rss_after_mb=round(after, 1),
        server_cpu_s=round(server_cpu - server_cpu0, 2),
        client_cpu_s=round(client_cpu - client_cpu0, 2),
    )


def _session_questions(session: int, n: int) -> list[str]:
    return [QUESTIONS[(session + i) % len(QUESTIONS)] for i in range(n)]


@dataclass
class _ChatEndpoint:
    """Gradio's queue protocol for the /chat event, spoken as a browser speaks it.

    gradio_client opens a new HTTP client (and TLS context) per request and a thread per
    job: on this 2-core machine it spent 7.1 s of CPU on 100 answers the server served in
    1.7 s, so it measured itself. One pooled async client costs a fraction of that."""

    http: httpx.AsyncClient
    fn_index: int
    inputs: list[tuple[bool, Any]]  # (is_state, default value) per input component
    outputs: dict[str, int]  # output positions by element id

    @classmethod
    async def find(cls, http: httpx.AsyncClient) -> _ChatEndpoint:
        config = (await http.get("config")).raise_for_status().json()
        components = {c["id"]: c for c in config["components"]}
        dep = next(d for d in config["dependencies"] if d.get("api_name") == "chat")
        inputs = [
            (components[i]["type"] == "state", components[i].get("props", {}).get("value"))
            for i in dep["inputs"]
        ]
        outputs = {
            components[o].get("props", {}).get("elem_id") or str(o): n
            for n, o in enumerate(dep["outputs"])
        }
        return cls(http, dep["id"], inputs, outputs)

    async def ask(self, session: str, question: str) -> tuple[str, str]:
        """(transcript HTML, notice) once the event completes."""
        values = iter([question, 120, 5, 0.55])
        data = [None if state else next(values, default) for state, default in self.inputs]
        joined = await self.http.post(
            "gradio_api/queue/join",
            json={
                "data": data,
                "fn_index": self.fn_index,
                "session_hash": session,
                "event_data": None,
                "trigger_id": None,
            },
        )
        event = joined.raise_for_status().json()["event_id"]
        params = {"session_hash": session}
        async with self.http.stream("GET", "gradio_api/queue/data", params=params) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event or message["msg"] != "process_completed":
                    continue
                output = message.get("output") or {}
                if not message.get("success") or "data" not in output:
                    raise RuntimeError(output.get("error") or "the event failed")
                out = output["data"]
                return str(out[0]), str(out[self.outputs.get("pt-notice", len(out) - 1)] or "")
        raise RuntimeError("the event stream ended without a result")


async def _ask_session(
    chat: _ChatEndpoint, questions: list[str], latencies: list[float], errors: list[str]
) -> None:
    """One browser-like session: its own session hash, questions one after another."""
    session = uuid.uuid4().hex[:11]
    for i, q in enumerate(questions):
        t0 = time.perf_counter()
        try:
            transcript, notice = await asyncio.wait_for(chat.ask(session, q), _TIMEOUT_S)
        except Exception as exc:
            errors.append(f"{q!r}: {type(exc).__name__}: {exc}")
            continue
        latencies.append(time.perf_counter() - t0)
        shown = _unescape(transcript)
        if notice or q not in shown:
            errors.append(f"{q!r}: no answer in the transcript (notice: {notice[:120]!r})")
        elif any(earlier not in shown for earlier in questions[:i]):
            errors.append(f"{q!r}: the session lost its earlier turns")


def _unescape(html: str) -> str:
    import html as html_lib

    return html_lib.unescape(html)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(index_dir: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("PAPERTRAIL_AUTH", None)
    cmd = [sys.executable, "-m", "ui.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*cmd, "--index-dir", str(index_dir)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url, proc, log)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait(url: str, proc: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"papertrail serve exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within 300 s")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.load", description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=5, help="questions per session")
    parser.add_argument(
        "--index-dir", type=Path, help="index to serve (default: a new temporary one)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.sessions, args.questions, args.index_dir or Path(tmp) / "index")
    missed = result.missed_goals()
    if args.json:
        print(json.dumps({**asdict(result), "missed_goals": missed}, indent=2))
    else:
        print(
            f"{result.sessions} sessions x {result.questions} questions: "
            f"{result.answers} answers, {len(result.errors)} errors in {result.wall_s} s; "
            f"latency p50 {result.p50_s:.3f} s, p95 {result.p95_s:.3f} s, "
            f"max {result.max_s:.3f} s; server RSS {result.rss_before_mb:.0f} -> "
            f"{result.rss_after_mb:.0f} MB ({result.rss_growth_mb:+.0f} MB); "
            f"CPU server {result.server_cpu_s:.1f} s, load generator {result.client_cpu_s:.1f} s"
        )
        for e in result.errors[:10]:
            print(f"  error: {e}")
        print("goals met" if not missed else f"goals missed: {'; '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
