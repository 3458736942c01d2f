"""`papertrail ask --answer-mode generative` against a scripted LLM on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from llm_server import LLMServer, Reply, llm_server, passage_number
from typer.testing import CliRunner

from index.settings import BUNDLED_CORPUS
from ui.cli import app

runner = CliRunner()
KEY = "sk-canary-cli-41d2e8"
QUESTION = "Where are MSCs obtained from?"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli-llm")
    result = runner.invoke(app, ["ingest", str(BUNDLED_CORPUS), "--index-dir", str(path)])
    assert result.exit_code == 0, result.output
    return str(path)


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[LLMServer]:
    monkeypatch.setenv("PAPERTRAIL_LLM__API_KEY", KEY)
    with llm_server() as server:
        yield server


def two_sentences(body: dict) -> Reply:
    n = passage_number(body, "obtained from tissues such as bone marrow")
    return Reply(
        chunks=[
            "MSCs are usually obtained from ",
            f"bone marrow, fat, and cord blood [{n}]. ",
            f"Pfizer grows them in Wistar rats [{n}].",
        ]
    )


def ask(index_dir: str, server: LLMServer, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        [
            "ask",
            QUESTION,
            "--index-dir",
            index_dir,
            "--answer-mode",
            "generative",
            "--llm-url",
            server.url,
            *extra,
        ],
    )
    return result.exit_code, result.stdout, result.stderr


def test_json_is_the_final_answer_with_its_claims(index_dir: str, llm: LLMServer) -> None:
    llm.script = two_sentences
    code, out, err = ask(index_dir, llm, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "generative"
    assert [c["verdict"] for c in data["claims"]] == ["supported", "unsupported"]
    for c in data["citations"]:
        assert c["passage"][c["quote_start"] : c["quote_end"]] == c["quote"]
    assert KEY not in out + err


def test_text_shows_each_verdict_and_the_sources(index_dir: str, llm: LLMServer) -> None:
    llm.script = two_sentences
    code, out, _ = ask(index_dir, llm)
    assert code == 0
    assert "Checked against the sources:" in out
    assert "✓ supported: MSCs are usually obtained" in out
    assert "✗ unsupported: Pfizer" in out and "Sources:\n[1]" in out


def test_remove_leaves_unsupported_sentences_out_of_the_answer(
    index_dir: str, llm: LLMServer
) -> None:
    llm.script = two_sentences
    code, out, _ = ask(index_dir, llm, "--unsupported", "remove", "--json")
    data = json.loads(out)
    assert code == 0 and "Pfizer" not in data["answer"]
    assert data["claims"][1]["verdict"] == "unsupported"


@pytest.mark.parametrize("status", [401, 500])
def test_a_failing_llm_is_one_line_and_never_shows_the_key(
    index_dir: str, llm: LLMServer, status: int
) -> None:
    llm.script = Reply(status=status)
    code, out, err = ask(index_dir, llm)
    assert code == 0
    assert f"Note: the LLM at {llm.url} answered HTTP {status}" in out
    assert "Traceback" not in out + err and KEY not in out + err
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_bad_answer_mode_is_a_usage_error(index_dir: str) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--index-dir", index_dir, "--answer-mode", "x"])
    assert result.exit_code == 2


def test_help_names_the_settings_behind_the_flags() -> None:
    result = runner.invoke(app, ["ask", "--help"])
    assert "PAPERTRAIL_ANSWER__MODE" in result.stdout
    assert "PAPERTRAIL_LLM__BASE_URL" in result.stdout
    assert "PAPERTRAIL_LLM__API_KEY" in " ".join(result.stdout.split())


def test_serve_takes_the_answer_flags_too() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    text = " ".join(result.stdout.split())
    assert "--answer-mode" in text and "--llm-url" in text and "--unsupported" in text
