"""The MCP server (ui/mcp_server.py) through the SDK's own client: `python -m ui.mcp_server`
in a subprocess over stdio, and once over streamable HTTP with the bearer token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from rag import Engine, Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What are the barriers to MSC standardisation?"
READ_TOOLS = {"search_passages", "ask", "list_documents", "get_passage"}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp") / "index"


@pytest.fixture(scope="module")
def engine(index_dir: Path) -> Engine:
    """The in-process engine on the index the servers read (the bundled MSC article)."""
    engine = Engine.open(Settings(index_dir=index_dir))
    report = engine.ensure_bundled_corpus()
    assert report is not None and report.ok, report
    return engine


def _env(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PAPERTRAIL_INDEX_DIR": str(index_dir),
        "PAPERTRAIL_LLM__LOCAL": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "PYTHONPATH": str(ROOT),
    }
    return {**env, **extra}


def _stdio(index_dir: Path, *args: str, module: tuple[str, ...] = ("ui.mcp_server",)) -> Client:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", *module, *args],
        env=_env(index_dir),
        cwd=str(ROOT),
    )
    return Client(params, read_timeout_seconds=120)


def _run(index_dir: Path, body: Callable[[Client], Awaitable[Any]], *args: str) -> Any:
    async def main() -> Any:
        async with _stdio(index_dir, *args) as client:
            return await body(client)

    return anyio.run(main)


def _json(result: Any) -> Any:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def _one_line_error(result: Any) -> str:
    assert result.is_error
    (block,) = result.content
    assert "\n" not in block.text and "Traceback" not in block.text, block.text
    return block.text


def _cited(citations: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("n", "doc_id", "page", "quote", "quote_start", "quote_end", "chunk_id", "reference")
    return [tuple(c[k] for k in keys) for c in citations]


def test_stdio_lists_the_read_tools_with_descriptions_and_schemas(engine: Engine, index_dir):
    async def body(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in _run(index_dir, body)}
    assert set(tools) == READ_TOOLS  # no ingest unless --allow-ingest
    for tool in tools.values():
        assert tool.description and "\n" not in tool.description
        assert tool.input_schema["type"] == "object"
    ask = tools["ask"].input_schema
    assert ask["required"] == ["question"]
    assert set(ask["properties"]) == {"question", "documents", "collections"}
    assert tools["search_passages"].input_schema["properties"]["k"]["maximum"] == 50


def test_ask_over_mcp_cites_the_same_quotes_pages_and_documents_as_engine_ask(
    engine: Engine, index_dir
):
    async def body(client: Client) -> Any:
        return await client.call_tool("ask", {"question": QUESTION})

    result = _run(index_dir, body)
    over_mcp = _json(result)
    direct = engine.ask(QUESTION).model_dump(mode="json")
    assert not over_mcp["abstained"] and over_mcp["citations"]
    assert _cited(over_mcp["citations"]) == _cited(direct["citations"])
    assert over_mcp["answer"] == direct["answer"]
    # The same JSON as `papertrail ask --json`, as text and as structured content.
    assert result.structured_content == over_mcp
    assert set(over_mcp) == set(direct)


def test_search_list_get_passage_and_the_document_resource_answer_over_stdio(
    engine: Engine, index_dir
):
    async def body(client: Client) -> Any:
        search = _json(await client.call_tool("search_passages", {"question": QUESTION, "k": 3}))
        listed = _json(await client.call_tool("list_documents", {}))
        cited = _json(await client.call_tool("ask", {"question": QUESTION}))["citations"][0]
        by_chunk = _json(
            await client.call_tool(
                "get_passage", {"doc_id": cited["doc_id"], "chunk_id": cited["chunk_id"]}
            )
        )
        resources = (await client.list_resources()).resources
        read = await client.read_resource(resources[0].uri)
        return search, listed, cited, by_chunk, resources, read

    search, listed, cited, by_chunk, resources, read = _run(index_dir, body)
    direct = engine.retrieve(QUESTION, 3)
    assert [p["chunk_id"] for p in search["passages"]] == [p.chunk_id for p in direct]
    assert {"page", "section", "start", "end", "score", "text"} <= set(search["passages"][0])
    doc_id = engine.documents()[0].doc_id
    assert [d["doc_id"] for d in listed["documents"]] == [doc_id]
    # get_passage: the cited passage, its page, and sentences around it.
    assert by_chunk["text"] == cited["passage"]
    assert cited["quote"] in by_chunk["text"]
    assert by_chunk["page"] == cited["page"]
    assert by_chunk["before"] or by_chunk["after"]
    text = engine.document(doc_id).text
    assert text[by_chunk["start"] : by_chunk["end"]] == cited["passage"]
    # Every document is a resource: its metadata, page list and text.
    assert [str(r.uri) for r in resources] == [f"papertrail://documents/{doc_id}"]
    document = json.loads(read.contents[0].text)
    assert document["text"] == text and document["pages"][0]["page"] == 1


def test_get_passage_by_offsets_gives_the_sentences_around_a_quote(engine: Engine, index_dir):
    answer = engine.ask(QUESTION)
    c = answer.citations[0]
    passage = next(p for p in answer.passages if p.chunk_id == c.chunk_id)
    start, end = passage.start + c.quote_start, passage.start + c.quote_end

    async def body(client: Client) -> Any:
        return _json(
            await client.call_tool(
                "get_passage", {"doc_id": c.doc_id, "start": start, "end": end, "sentences": 1}
            )
        )

    got = _run(index_dir, body)
    assert got["text"] == c.quote
    assert len(got["before"]) <= 1 and len(got["after"]) <= 1
    assert got["page"] == c.page and got["section"] == c.section


def test_unknown_document_and_bad_arguments_are_one_line_tool_errors(engine: Engine, index_dir):
    async def body(client: Client) -> Any:
        return [
            await client.call_tool("ask", {"question": QUESTION, "documents": ["no-such.pdf"]}),
            await client.call_tool("search_passages", {"question": QUESTION, "k": 0}),
            await client.call_tool("ask", {"question": QUESTION, "collections": ["Nowhere"]}),
            await client.call_tool("get_passage", {"doc_id": "no-such.pdf", "start": 0, "end": 5}),
            await client.call_tool("ask", {"question": "   "}),
        ]

    unknown, bad_k, no_collection, no_doc, empty = (
        _one_line_error(r) for r in _run(index_dir, body)
    )
    assert "no document 'no-such.pdf'" in unknown
    assert "k" in bad_k
    assert "'Nowhere'" in no_collection
    assert "'no-such.pdf'" in no_doc
    assert "empty" in empty


def test_ingest_is_not_offered_and_refused_without_allow_ingest(engine: Engine, index_dir):
    async def body(client: Client) -> Any:
        return await client.call_tool("ingest", {"paths": [str(ROOT / "README.md")]})

    message = _one_line_error(_run(index_dir, body))
    assert "--allow-ingest" in message
    assert len(engine.documents()) == 1


def test_ingest_with_allow_ingest_indexes_a_file_an_answer_can_then_cite(tmp_path: Path):
    note = tmp_path / "notes.md"
    note.write_text(
        "# Lab notes\n\nThe zebrafish fin regenerates within fourteen days after amputation "
        "in our tanks kept at 28 degrees.\n"
    )
    index_dir = tmp_path / "index"

    async def body(client: Client) -> Any:
        names = {t.name for t in (await client.list_tools()).tools}
        report = _json(await client.call_tool("ingest", {"paths": [str(note)]}))
        answer = _json(
            await client.call_tool(
                "ask",
                {
                    "question": "How long does the zebrafish fin take to regenerate?",
                    "documents": ["notes.md"],
                },
            )
        )
        return names, report, answer

    names, report, answer = _run(index_dir, body, "--allow-ingest", "--no-bundled")
    assert "ingest" in names
    assert [f["status"] for f in report["files"]] == ["indexed"]
    assert answer["citations"] and "fourteen days" in answer["citations"][0]["quote"]


# -- streamable HTTP ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def http_server(engine: Engine, index_dir: Path, tmp_path_factory) -> Iterator[str]:
    """`python -m ui.mcp_server --http` with PAPERTRAIL_AUTH set: the token is required."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("mcp-http") / "server.log").open("w")
    env = {**os.environ, **_env(index_dir, PAPERTRAIL_AUTH="ann:pw", PAPERTRAIL_API_TOKEN="t0k")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.mcp_server", "--http", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, Path(log.name).read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _http_ask(url: str, token: str | None) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with create_mcp_http_client(headers=headers) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                return await client.call_tool("ask", {"question": QUESTION})

    return anyio.run(main)


def test_http_transport_with_the_bearer_token_cites_like_engine_ask(engine: Engine, http_server):
    over_http = _json(_http_ask(http_server, "t0k"))
    direct = engine.ask(QUESTION).model_dump(mode="json")
    assert _cited(over_http["citations"]) == _cited(direct["citations"])


def test_http_transport_refuses_a_missing_or_wrong_bearer_token(http_server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "t0k"}):
        response = httpx.post(
            http_server,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream", **headers},
        )
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(BaseException):  # noqa: B017  the SDK's client fails to connect
        _http_ask(http_server, None)


def test_http_on_another_address_without_auth_is_refused_before_loading(tmp_path: Path):
    env = {**os.environ, **_env(tmp_path / "index")}
    env.pop("PAPERTRAIL_AUTH", None)
    done = subprocess.run(
        [sys.executable, "-m", "ui.mcp_server", "--http", "--host", "0.0.0.0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refusing to serve MCP on 0.0.0.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "index").exists()


def test_papertrail_mcp_serves_the_same_tools_over_stdio(engine: Engine, index_dir):
    async def main() -> Any:
        async with _stdio(index_dir, module=("ui.cli", "mcp")) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert anyio.run(main) == READ_TOOLS


def test_http_transport_slows_a_client_that_floods_it(http_server):
    from ui.api import RATE_BURST, RATE_PER_SECOND

    with httpx.Client(timeout=10) as http:
        codes = [http.get(http_server).status_code for _ in range(RATE_BURST + 5)]
    assert 429 in codes and codes.index(429) >= RATE_BURST - 5, codes
    time.sleep(RATE_BURST / RATE_PER_SECOND + 0.5)  # the bucket refills for later tests
