"""Shared helpers for the UI tests: ports, a served app (thread or subprocess), Chromium.

Imported by the UI test modules (no conftest changes needed): the test modules wrap
these in module-scoped fixtures, so each module pays for one model load only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(
    url: str, *, timeout: float = 120.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll until `url` answers 200; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@contextmanager
def app_in_thread(index_dir: Path) -> Iterator[tuple[str, Any]]:
    """The real app (ui.app.serve's steps) on a free port in this process.

    The index location comes from PAPERTRAIL_INDEX_DIR, as a user would set it.
    Yields (url, engine).
    """
    from rag import Settings
    from ui.app import build_app, launch, open_engine

    old = os.environ.get("PAPERTRAIL_INDEX_DIR")
    os.environ["PAPERTRAIL_INDEX_DIR"] = str(index_dir)
    try:
        settings = Settings()
    finally:
        if old is None:
            del os.environ["PAPERTRAIL_INDEX_DIR"]
        else:
            os.environ["PAPERTRAIL_INDEX_DIR"] = old
    engine = open_engine(settings, bundled=True)
    demo = build_app(engine)
    port = free_port()
    launch(demo, port=port, block=False, pages_dir=engine.pages_dir)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, timeout=30)
        yield url, engine
    finally:
        demo.close()


def _papertrail() -> list[str]:
    script = Path(sys.executable).with_name("papertrail")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ui.cli import main; main()"]


@contextmanager
def server_process(
    cmd: list[str], ready_url: str, log: Path, *, timeout: float = 120.0, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess logging to `log`, once `ready_url` answers; stopped on exit. A
    server that dies or never answers fails with the log's tail."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        try:
            wait_for_http(ready_url, timeout=timeout, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{exc}\n--- server log ---\n{tail}") from exc
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def served(index_dir: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`papertrail serve` as a subprocess on a free port, with `env` added to this
    process's environment (e.g. PAPERTRAIL_LLM__BASE_URL); yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "GRADIO_TEMP_DIR": str(log.parent / "gradio"),
        **(env or {}),
    }
    cmd = [*_papertrail(), "serve", "--port", str(port), "--index-dir", str(index_dir)]
    url = f"http://127.0.0.1:{port}/"
    with server_process(cmd, url, log, env=env, cwd=REPO):
        yield url


_ENGINE_SCRIPT = """
import json, sys
from rag import Engine, Settings
engine = Engine.open(Settings(index_dir=sys.argv[1]))
report = engine.ensure_bundled_corpus()
assert report is None or report.ok, report
print(json.dumps({q: engine.ask(q).model_dump(mode="json") for q in sys.argv[2:]}))
"""


def engine_answers(index_dir: Path, questions: list[str]) -> dict[str, dict[str, Any]]:
    """Index the bundled article into `index_dir` and answer `questions` with the Engine.

    Run in a child process before the server starts, so the UI under test and this
    reference never share a process or hold the index open at the same time.
    """
    env = {**os.environ, **OFFLINE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", _ENGINE_SCRIPT, str(index_dir), *questions],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@contextmanager
def app_page(context: Any, url: str, *, timeout: float = 30_000) -> Iterator[Any]:
    """A page of `context` at the app's `url`, once the chat is on screen; an error in the
    page's scripts fails the test."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("#pt-transcript .pt-transcript", timeout=timeout)
    yield page
    assert not errors, errors
