"""The HTTP API and the OpenAI-compatible endpoint (ui/api.py) through real clients: httpx
and the `openai` package against the real app (Gradio with the API mounted, as `serve`
runs it) on loopback; one `papertrail serve` subprocess for the command itself.

The reference answers are the same engine's `Engine.ask`: every citation must come through
intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from ui_fixtures import free_port, served, wait_for_http

from rag import Engine, PaperTrailError, Settings
from ui.api import api_app, sources_text

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

MSC_QUESTION = "What are the barriers to MSC standardisation?"
FOLLOW_UP = "Where are they obtained from?"
TOKEN = "test-token-0123456789"
LIMIT_MB = 1  # PAPERTRAIL_MAX_FILE_MB of the app under test


@contextmanager
def api_in_thread(
    engine: Engine, settings: Settings, auth: list[tuple[str, str]] | None = None
) -> Iterator[str]:
    """The app as `ui.app.serve` builds it (UI, API mounted beside it) on a free port."""
    from ui.app import build_app, launch

    demo = build_app(engine)
    port = free_port()
    launch(
        demo,
        port=port,
        block=False,
        auth=auth,
        max_file_mb=settings.max_file_mb,
        pages_dir=engine.pages_dir,
        api=api_app(engine, settings=settings),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/v1/documents" if not auth else f"{url}/", timeout=30)
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from ui.app import open_engine

    index_dir = tmp_path_factory.mktemp("api") / "index"
    return open_engine(Settings(index_dir=index_dir, max_file_mb=LIMIT_MB), bundled=True)


@pytest.fixture(scope="module")
def url(engine: Engine) -> Iterator[str]:
    with api_in_thread(engine, engine.settings) as served_url:
        yield served_url


@pytest.fixture(scope="module")
def auth_url(engine: Engine) -> Iterator[str]:
    """The same index served with sign-in on (PAPERTRAIL_AUTH) and PAPERTRAIL_API_TOKEN."""
    settings = engine.settings.model_copy(
        update={"auth": SecretStr("reader:secret"), "api_token": SecretStr(TOKEN)}
    )
    with api_in_thread(engine, settings, auth=[("reader", "secret")]) as served_url:
        yield served_url


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=120) as client:
        yield client


@pytest.fixture
def openai_client(url: str) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def dump(model: Any) -> Any:
    return model.model_dump(mode="json")


# -- /api/v1 ---------------------------------------------------------------------------
def test_ask_returns_the_engines_answer_as_ask_json_does(
    http: httpx.Client, engine: Engine
) -> None:
    response = http.post("/api/v1/ask", json={"question": MSC_QUESTION})
    assert response.status_code == 200, response.text
    expected = dump(engine.ask(MSC_QUESTION))
    assert expected["citations"], "the reference answer cites nothing: the test would be void"
    assert response.json() == expected


def test_ask_with_history_answers_the_follow_up_as_the_engine_does(
    http: httpx.Client, engine: Engine
) -> None:
    first = engine.ask(MSC_QUESTION)
    history = [{"question": MSC_QUESTION, "answer": first.answer}]
    got = http.post("/api/v1/ask", json={"question": FOLLOW_UP, "history": history}).json()
    expected = dump(engine.ask(FOLLOW_UP, [(MSC_QUESTION, first.answer)]))
    assert got["searched"] is not None  # the follow-up was read with its history
    assert got == expected


def test_ask_scoped_to_a_document_cites_only_that_document(
    http: httpx.Client, engine: Engine
) -> None:
    doc_id = engine.documents()[0].doc_id
    got = http.post("/api/v1/ask", json={"question": MSC_QUESTION, "documents": [doc_id]})
    assert got.status_code == 200, got.text
    assert {c["doc_id"] for c in got.json()["citations"]} == {doc_id}


def test_ask_scoped_to_an_unknown_document_is_refused_naming_it(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/ask", json={"question": MSC_QUESTION, "documents": ["no-such-doc.pdf"]}
    )
    assert response.status_code == 400
    assert "no-such-doc.pdf" in response.json()["error"]


def test_ask_scoped_to_an_empty_collection_is_refused_naming_it(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/ask", json={"question": MSC_QUESTION, "collections": ["Nobody/Filed"]}
    )
    assert response.status_code == 400
    assert "Nobody/Filed" in response.json()["error"]


def test_ask_with_an_empty_scope_is_refused_not_widened(http: httpx.Client) -> None:
    response = http.post("/api/v1/ask", json={"question": MSC_QUESTION, "documents": []})
    assert response.status_code == 400
    assert "no documents" in response.json()["error"]


def test_invalid_body_is_a_one_line_json_error(http: httpx.Client) -> None:
    missing = http.post("/api/v1/ask", json={"documents": None})
    assert missing.status_code == 422
    assert missing.json() == {"error": "question: Field required"}
    empty = http.post("/api/v1/ask", json={"question": "   "})
    assert empty.status_code == 400 and "\n" not in empty.json()["error"]


def test_search_returns_the_engines_passages(http: httpx.Client, engine: Engine) -> None:
    response = http.post("/api/v1/search", json={"question": "sources of MSCs", "k": 3})
    assert response.status_code == 200, response.text
    expected = [dump(p) for p in engine.retrieve("sources of MSCs", 3)]
    assert len(expected) == 3 and response.json() == expected


def test_documents_list_and_show_match_the_engine(http: httpx.Client, engine: Engine) -> None:
    listed = http.get("/api/v1/documents").json()
    assert listed == [dump(d) for d in engine.documents()]
    doc_id = listed[0]["doc_id"]
    shown = http.get(f"/api/v1/documents/{doc_id}")
    assert shown.status_code == 200 and shown.json() == listed[0]


def test_unknown_document_is_404_naming_it(http: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        response = http.request(method, "/api/v1/documents/missing.pdf")
        assert response.status_code == 404
        assert "missing.pdf" in response.json()["error"]


def test_upload_indexes_and_keeps_the_file_and_delete_removes_it(
    http: httpx.Client, engine: Engine
) -> None:
    text = b"Zebrafish fins regenerate within two weeks after amputation in warm water.\n" * 20
    response = http.post(
        "/api/v1/documents", files=[("files", ("zebrafish-fins.txt", text, "text/plain"))]
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()["files"]
    assert result["status"] == "indexed", result
    doc_id = result["doc_id"]
    kept = engine.settings.index_dir / "uploads" / "zebrafish-fins.txt"
    try:
        assert kept.read_bytes() == text
        assert doc_id in {d.doc_id for d in engine.documents()}
        scoped = http.post(
            "/api/v1/ask",
            json={"question": "How fast do zebrafish fins regenerate?", "documents": [doc_id]},
        ).json()
        assert {c["doc_id"] for c in scoped["citations"]} == {doc_id}
    finally:
        removed = http.delete(f"/api/v1/documents/{doc_id}")
    assert removed.status_code == 200 and removed.json() == {"removed": doc_id}
    assert doc_id not in {d.doc_id for d in engine.documents()}
    assert http.delete(f"/api/v1/documents/{doc_id}").status_code == 404


def test_oversized_upload_is_refused_before_it_is_read(http: httpx.Client, engine: Engine) -> None:
    big = b"x" * int((LIMIT_MB + 1.5) * 1_000_000)  # over the limit plus the framing allowance
    response = http.post("/api/v1/documents", files=[("files", ("big.txt", big, "text/plain"))])
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert not (engine.settings.index_dir / "uploads" / "big.txt").exists()


def test_a_file_over_the_limit_fails_alone_and_is_not_kept(
    http: httpx.Client, engine: Engine
) -> None:
    over = b"y" * int((LIMIT_MB + 0.3) * 1_000_000)
    response = http.post(
        "/api/v1/documents",
        files=[
            ("files", ("over.txt", over, "text/plain")),
            ("files", ("script.exe", b"MZ", "application/octet-stream")),
        ],
    )
    assert response.status_code == 200, response.text
    results = {r["path"]: r for r in response.json()["files"]}
    assert results["over.txt"]["status"] == "failed"
    assert f"the limit is {LIMIT_MB:g} MB" in results["over.txt"]["error"]
    assert results["script.exe"]["status"] == "failed"
    assert "not a file type" in results["script.exe"]["error"]
    uploads = engine.settings.index_dir / "uploads"
    assert not (uploads / "over.txt").exists() and not (uploads / "script.exe").exists()


def test_json_body_over_one_megabyte_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/ask",
        content=b'{"question": "' + b"a" * 1_100_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_body_without_a_length_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/ask",
        content=iter([b'{"question": "', b'What is MSC?"}']),  # chunked
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 411


def test_cross_origin_browser_request_is_refused(http: httpx.Client, url: str) -> None:
    foreign = http.get("/api/v1/documents", headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    same = http.get("/api/v1/documents", headers={"origin": url})
    assert same.status_code == 200


def test_openapi_describes_every_route(http: httpx.Client) -> None:
    spec = http.get("/api/v1/openapi.json").json()
    paths = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert paths == {
        ("POST", "/api/v1/ask"),
        ("POST", "/api/v1/search"),
        ("GET", "/api/v1/documents"),
        ("POST", "/api/v1/documents"),
        ("GET", "/api/v1/documents/{doc_id}"),
        ("DELETE", "/api/v1/documents/{doc_id}"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    }
    assert "Answer" in spec["components"]["schemas"]
    assert "Citation" in spec["components"]["schemas"]


def test_the_ui_is_still_served_beside_the_api(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert http.get("/gradio_api/info").status_code == 200


def test_eight_concurrent_asks_are_all_answered_alike(http: httpx.Client, engine: Engine) -> None:
    questions = [MSC_QUESTION, "How do MSCs modulate T cells?"] * 4
    expected = {q: dump(engine.ask(q)) for q in set(questions)}

    def ask(question: str) -> tuple[str, int, Any]:
        response = http.post("/api/v1/ask", json={"question": question})
        return question, response.status_code, response.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, questions))
    assert [status for _, status, _ in results] == [200] * 8
    assert all(got == expected[q] for q, _, got in results)


# -- /v1: the OpenAI client --------------------------------------------------------------
def test_openai_client_gets_the_engines_answer_and_every_citation(
    openai_client: Any, engine: Engine
) -> None:
    expected = engine.ask(MSC_QUESTION)
    completion = openai_client.chat.completions.create(
        model="papertrail", messages=[{"role": "user", "content": MSC_QUESTION}]
    )
    message = completion.choices[0].message
    assert completion.model == "papertrail" and completion.choices[0].finish_reason == "stop"
    assert message.content == (f"{expected.answer}\n\nSources:\n{sources_text(expected.citations)}")
    for c in expected.citations:  # the text form names reference, page and quote
        assert f"[{c.n}] {c.reference or c.title}, p. {c.page_label or c.page}" in message.content
        assert f"“{c.quote}”" in message.content
    assert message.model_extra["citations"] == [dump(c) for c in expected.citations]


def test_openai_client_streams_the_same_answer_and_citations(
    openai_client: Any, engine: Engine
) -> None:
    expected = engine.ask(MSC_QUESTION)
    stream = openai_client.chat.completions.create(
        model="papertrail", messages=[{"role": "user", "content": MSC_QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == f"{expected.answer}\n\nSources:\n{sources_text(expected.citations)}"
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    assert last.delta.model_extra["citations"] == [dump(c) for c in expected.citations]
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert chunks[0].choices[0].delta.role == "assistant"


def test_openai_conversation_earlier_turns_are_the_history(
    openai_client: Any, engine: Engine
) -> None:
    first = openai_client.chat.completions.create(
        model="papertrail", messages=[{"role": "user", "content": MSC_QUESTION}]
    )
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": MSC_QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP},
    ]
    got = openai_client.chat.completions.create(model="papertrail", messages=messages)
    expected = engine.ask(FOLLOW_UP, [(MSC_QUESTION, engine.ask(MSC_QUESTION).answer)])
    assert expected.searched  # read as a follow-up
    assert got.choices[0].message.model_extra["citations"] == [dump(c) for c in expected.citations]


def test_openai_scope_reaches_only_declared_documents(openai_client: Any) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as refused:
        openai_client.chat.completions.create(
            model="papertrail",
            messages=[{"role": "user", "content": MSC_QUESTION}],
            extra_body={"documents": ["secret-other.pdf"]},
        )
    assert "secret-other.pdf" in refused.value.body["message"]


def test_openai_errors_are_in_openais_shape(openai_client: Any) -> None:
    import openai

    with pytest.raises(openai.NotFoundError) as unknown_model:
        openai_client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": MSC_QUESTION}]
        )
    assert "papertrail" in unknown_model.value.body["message"]
    with pytest.raises(openai.BadRequestError) as not_a_question:
        openai_client.chat.completions.create(
            model="papertrail", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert not_a_question.value.body["type"] == "invalid_request_error"
    assert "user" in not_a_question.value.body["message"]


def test_openai_models_lists_papertrail(openai_client: Any) -> None:
    assert [m.id for m in openai_client.models.list()] == ["papertrail"]


# -- sign-in, token, limits ----------------------------------------------------------------
def test_api_needs_the_bearer_token_when_sign_in_is_on(auth_url: str) -> None:
    with httpx.Client(base_url=auth_url, timeout=120) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            for path in ("/api/v1/documents", "/v1/models", "/api/v1/openapi.json"):
                refused = client.get(path, headers=headers)
                assert refused.status_code == 401, (path, headers)
                assert refused.headers["www-authenticate"].startswith("Bearer")
        allowed = client.post(
            "/api/v1/ask",
            json={"question": MSC_QUESTION},
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        assert allowed.status_code == 200 and allowed.json()["citations"]


def test_openai_client_with_a_wrong_key_is_refused_and_the_right_one_answered(
    auth_url: str,
) -> None:
    openai = pytest.importorskip("openai")
    wrong = openai.OpenAI(base_url=f"{auth_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    right = openai.OpenAI(base_url=f"{auth_url}/v1", api_key=TOKEN, max_retries=0, timeout=120)
    completion = right.chat.completions.create(
        model="papertrail", messages=[{"role": "user", "content": MSC_QUESTION}]
    )
    assert completion.choices[0].message.model_extra["citations"]


def test_api_refuses_to_start_with_sign_in_and_no_token(engine: Engine) -> None:
    settings = engine.settings.model_copy(update={"auth": SecretStr("reader:secret")})
    with pytest.raises(PaperTrailError, match="PAPERTRAIL_API_TOKEN"):
        api_app(engine, settings=settings)


def test_rate_limit_answers_429_with_retry_after(engine: Engine) -> None:
    from starlette.testclient import TestClient

    with TestClient(api_app(engine, rate_per_second=0.01, rate_burst=3)) as client:
        statuses = [client.get("/v1/models").status_code for _ in range(5)]
        refused = client.get("/api/v1/documents")
    assert statuses == [200, 200, 200, 429, 429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "too many requests" in refused.json()["error"]


# -- the command ---------------------------------------------------------------------------
def test_serve_with_sign_in_and_no_token_serves_the_ui_but_not_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERTRAIL_AUTH", "reader:secret")
    log = tmp_path / "serve.log"
    with served(tmp_path / "index", log) as url, httpx.Client(base_url=url) as client:
        off = client.get("api/v1/documents")
        assert off.status_code == 503
        assert "PAPERTRAIL_API_TOKEN" in off.json()["error"]
        assert client.post("v1/chat/completions", json={}).status_code == 503
        assert client.get("/").status_code == 200  # the UI's sign-in page
    assert "the HTTP API is off" in log.read_text()


def test_papertrail_serve_serves_the_api_on_the_ui_port(tmp_path: Path) -> None:
    with served(tmp_path / "index", tmp_path / "serve.log") as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            assert client.get("/").status_code == 200
            docs = client.get("api/v1/documents").json()
            assert docs and docs[0]["doc_id"].startswith("ijmms-2024")
            answer = client.post("api/v1/ask", json={"question": MSC_QUESTION}).json()
            assert answer["citations"] and not answer["abstained"]
