"""`papertrail eval --answer-mode generative`: the LLM's answers beside the extractive ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_server import Reply, llm_server, passage_number
from typer.testing import CliRunner

from ui.cli import app

BUNDLED_ID = "ijmms-2024-v14n2-msc-autoimmune-p128.txt"
KEY = "sk-canary-eval-5c0ffee"


def script(body: dict) -> Reply:
    n = passage_number(body, "obtained from tissues such as bone marrow")
    return Reply(
        chunks=[
            "MSCs are usually obtained from tissues such as bone marrow, fat, ",
            f"and cord blood [{n}]. Pfizer grows them in Wistar rats [{n}]. They help.",
        ],
        delay_s=0.05,
    )


def test_generative_eval_reports_faithfulness_citations_and_first_token_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = tmp_path / "mine.jsonl"
    lines = [
        {
            "id": "tissues",
            "question": "From which tissues are MSCs usually obtained?",
            "answers": ["bone marrow, fat, and cord blood"],
            "gold": {"doc_id": BUNDLED_ID, "section": "4.4"},
        },
        {
            "id": "price",
            "question": "What is the price of MSC therapy in Chile?",
            "answerable": False,
        },
    ]
    questions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    corpus = Path(__file__).resolve().parents[1] / "index" / "corpus" / BUNDLED_ID
    out = tmp_path / "out"
    with llm_server() as server:
        server.script = script
        monkeypatch.setenv("PAPERTRAIL_LLM__BASE_URL", server.url)
        monkeypatch.setenv("PAPERTRAIL_LLM__API_KEY", KEY)
        result = CliRunner().invoke(
            app,
            [
                "eval", str(questions), "--corpus", str(corpus), "--systems", "papertrail",
                "--answer-mode", "generative", "--no-isolate", "--out", str(out),
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    extractive = results["systems"]["papertrail"]
    generated = results["systems"]["papertrail-generative"]
    # Two of the LLM's three sentences are not supported (an invented name, no citation).
    assert generated["faithfulness"] == pytest.approx(1 / 3, abs=1e-3)
    assert generated["alce_citation_recall"] == pytest.approx(1 / 3, abs=1e-3)
    assert generated["alce_citation_precision"] == pytest.approx(1 / 2, abs=1e-3)
    assert extractive["faithfulness"] is not None and extractive["faithfulness"] > 0.5
    for m in (extractive, generated):
        assert m["ttft_p50_ms"] is not None and m["answer_contains"] is not None
    assert generated["ttft_p50_ms"] < generated["latency_p50_ms"]
    for line in ("faithfulness", "alce_citation_precision", "ttft_p95_ms"):
        assert line in result.output
    for path in out.iterdir():
        assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in result.output
