"""The web UI: multi-turn chat with clickable citations, and document management.

A thin client of `rag.Engine`. This module is the shell (header, tabs, serving); each
screen's layout and handlers are in ui.chat and ui.documents, their HTML in ui.render.
Gradio is imported inside functions, so importing this module loads no model, opens no
index and stays cheap for the CLI.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import Engine, PaperTrailError, Settings
from ui import render
from ui.chat import EXAMPLE_QUESTIONS, ChatHandlers, chat_tab
from ui.documents import UPLOAD_TYPES, DocumentHandlers, documents_tab
from ui.style import CSS
from ui.widgets import gradio, html_block

if TYPE_CHECKING:
    import gradio as gr

__all__ = [
    "EXAMPLE_QUESTIONS",
    "UPLOAD_TYPES",
    "build_app",
    "check_bind",
    "check_port",
    "is_loopback",
    "launch",
    "open_engine",
    "serve",
]


def build_app(engine: Engine) -> gr.Blocks:
    """The Gradio app on an open engine; `launch` serves it."""
    gr = gradio()
    docs = DocumentHandlers(engine)
    with gr.Blocks(title="PaperTrail", analytics_enabled=False) as demo:
        with gr.Row(equal_height=True, elem_id="pt-top"):
            html_block(
                "<h1>PaperTrail</h1><span>Ask questions about scientific articles; every "
                "answer cites the exact passage it comes from.</span>",
                "pt-header",
            )
            theme = gr.Button("Dark mode", size="sm", scale=0, min_width=110, elem_id="pt-theme")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat") as chat_tab_:
                chat_tab(ChatHandlers(engine), engine.settings, demo, chat_tab_)
            with gr.Tab("Documents", id="documents") as documents_tab_:
                documents = documents_tab(docs)
        demo.load(docs.documents, None, documents, api_name="documents")
        # Beside the system-driven theme: the reader's choice, kept in this browser.
        theme.click(None, None, None, js=THEME_JS.replace("MODE", "toggle"))
        demo.load(None, None, None, js=THEME_JS.replace("MODE", "restore"))
        # Another session may have added or removed documents meanwhile.
        documents_tab_.select(docs.documents, None, documents, api_visibility="private")
    return demo


THEME_JS = """() => {
  const saved = localStorage.getItem('papertrail-theme');
  const dark = 'MODE' === 'toggle' ? !document.body.classList.contains('dark') : saved === 'dark';
  if ('MODE' === 'toggle') localStorage.setItem('papertrail-theme', dark ? 'dark' : 'light');
  if ('MODE' === 'toggle' || saved) document.body.classList.toggle('dark', dark);
  const button = document.querySelector('#pt-theme');
  const now = document.body.classList.contains('dark');
  if (button) button.textContent = now ? 'Light mode' : 'Dark mode';
}"""


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    auth: list[tuple[str, str]] | None = None,
    max_file_mb: float = 100,
    pages_dir: Path | None = None,
    api: Any | None = None,
) -> None:
    """Serve `demo` on host:port; with block=False it returns once the server is up.

    Any address but loopback needs `auth` (Gradio's sign-in page): the UI can read and
    change the index. `api` (ui.api.api_app) is served on the same port, under /api/v1/
    and /v1/, ahead of Gradio's routes.
    """
    check_bind(host, auth)
    gr = gradio()
    demo.queue(default_concurrency_limit=4)
    app_kwargs = None
    if api is not None:
        from ui.api import api_route

        app_kwargs = {"routes": [api_route(api)]}  # FastAPI(routes=...): before Gradio's
    try:
        demo.launch(
            app_kwargs=app_kwargs,
            server_name=host,
            server_port=port,
            auth=auth or None,
            auth_message="PaperTrail: sign in with the user name and password you were given.",
            max_file_size=f"{max_file_mb * 1_000_000:.0f}b",  # Gradio refuses larger uploads
            prevent_thread_lock=True,  # `launch` blocks, after its banner
            # Rendered PDF pages of cited sources; nothing else on disk is served.
            allowed_paths=[str(pages_dir)] if pages_dir else None,
            share=False,
            inbrowser=False,
            ssr_mode=False,
            show_error=False,
            quiet=True,
            footer_links=["api"],
            theme=_theme(gr),
            css=CSS,
        )
    except OSError as exc:  # taken between check_port and here
        raise PaperTrailError(_port_taken(host, port)) from exc
    if block:
        # Our own banner: Gradio's suggests `share=True`, which PaperTrail never does.
        print(
            f"PaperTrail: serving http://{_url_host(host)}:{port}/ (Ctrl+C to stop)",
            file=sys.stderr,
        )
        if api is not None:
            print(
                f"PaperTrail: HTTP API at http://{_url_host(host)}:{port}/api/v1/ and "
                f"OpenAI-compatible at http://{_url_host(host)}:{port}/v1/ (docs/api.md)",
                file=sys.stderr,
            )
        demo.block_thread()


def check_bind(host: str, auth: list[tuple[str, str]] | None) -> None:
    """Refuse an address other machines can reach unless sign-in is on."""
    if not auth and not is_loopback(host):
        raise PaperTrailError(
            f"refusing to serve on {host} without sign-in (anyone who can reach it could read "
            "and change the index); set PAPERTRAIL_AUTH=user:password or @FILE, or serve on "
            "127.0.0.1 behind a reverse proxy"
        )


def check_port(host: str, port: int) -> None:
    """Refuse a port something already listens on, before the model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise PaperTrailError(_port_taken(host, port)) from exc


def _port_taken(host: str, port: int) -> str:
    return f"port {port} on {host} is in use (another papertrail serve?); choose one with --port"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    from ui.api import served_api

    auth = settings.credentials()
    check_bind(host, auth)  # before the model loads
    check_port(host, port)
    engine = open_engine(settings, bundled=bundled)
    engine.keep_writes_warm()
    print(
        f"PaperTrail: {render.count_of(len(engine.documents()), 'document')} in "
        f"{settings.index_dir}",
        file=sys.stderr,
    )
    launch(
        build_app(engine),
        host=host,
        port=port,
        auth=auth,
        max_file_mb=settings.max_file_mb,
        pages_dir=engine.pages_dir,
        api=served_api(engine),  # off (503) with sign-in on and no PAPERTRAIL_API_TOKEN
    )
