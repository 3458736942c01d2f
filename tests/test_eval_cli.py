"""`papertrail eval` end to end on small slices, with the real model and Chroma."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ui.cli import app

REQUIRED_METRICS = {
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "mrr@10",
    "ndcg@10",
    "answer_contains",
    "token_f1",
    "token_recall",
    "semantic_similarity",
    "citation_precision",
    "citation_recall",
    "quote_fidelity",
    "abstention_accuracy",
    "false_abstention_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "ingest_chunks_per_s",
    "ingest_chars_per_s",
    "peak_rss_mb",
}
BUNDLED_ID = "ijmms-2024-v14n2-msc-autoimmune-p128.txt"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _results(out: Path) -> dict:
    assert (out / "report.html").is_file()
    results = json.loads((out / "results.json").read_text())
    assert {"dataset", "split", "n_questions", "n_chunks", "systems"} <= set(results)
    for name, metrics in results["systems"].items():
        assert REQUIRED_METRICS <= set(metrics), name
        assert all(
            metrics[k] is None or isinstance(metrics[k], int | float) for k in REQUIRED_METRICS
        )
    return results


@pytest.mark.slow
def test_covid_slice_scores_clearly_above_a_random_retriever(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _invoke(
        "covid-qa",
        "--limit",
        "6",
        "--distractors",
        "2",
        "--systems",
        "papertrail,random",
        "--out",
        str(out),
    )
    assert code == 0, output
    results = _results(out)
    assert results["dataset"] == "covid-qa" and results["split"] == "test"
    assert results["n_questions"] == 6 and results["n_chunks"] > 10
    real, broken = results["systems"]["papertrail"], results["systems"]["random"]
    assert real["mrr@10"] >= broken["mrr@10"] + 0.3, (real, broken)
    assert real["hit@10"] > broken["hit@10"]
    assert real["citation_recall"] > broken["citation_recall"]
    assert real["quote_fidelity"] == 1.0
    assert real["abstention_accuracy"] is None  # COVID-QA has no unanswerable questions
    assert real["peak_rss_mb"] > broken["peak_rss_mb"]  # each system measured in its own process
    assert "papertrail" in output and "random" in output


@pytest.mark.slow
def test_user_jsonl_set_runs_against_the_baselines(tmp_path: Path) -> None:
    questions = tmp_path / "mine.jsonl"
    lines = [
        {
            "id": "tissues",
            "question": "From which tissues are MSCs usually obtained?",
            "answers": ["bone marrow, fat, and cord blood"],
            "gold": {"doc_id": BUNDLED_ID, "section": "4.4"},
        },
        {
            "id": "law",
            "question": "Which <b>legal</b> issues does MSC treatment raise?",
            "gold": {"doc_id": BUNDLED_ID, "section": "Legal, ethical and cost considerations"},
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
    code, output = _invoke(
        str(questions),
        "--corpus",
        str(corpus),
        "--systems",
        "bm25,dense,llamaindex-default",
        "--no-isolate",
        "--out",
        str(out),
    )
    assert code == 0, output
    results = _results(out)
    assert results["n_questions"] == 3 and results["n_unanswerable"] == 1
    for name, m in results["systems"].items():
        assert m["quote_fidelity"] == 1.0, name
        assert m["abstention_accuracy"] == 0.0, name  # the baselines never abstain
        assert m["answer_contains"] is not None and m["hit@10"] is not None
    html = (out / "report.html").read_text()
    assert "Which &lt;b&gt;legal&lt;/b&gt; issues" in html and "<b>legal</b>" not in html
    rows = [json.loads(x) for x in (out / "questions.jsonl").read_text().splitlines()]
    assert {r["system"] for r in rows} == {"bm25", "dense", "llamaindex-default"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchset"], "unknown dataset 'nosuchset'"),
        (["seed", "--systems", "papertrail,gpt9"], "unknown system(s) gpt9"),
        (["questions.jsonl"], "--corpus"),
    ],
)
def test_bad_invocation_is_a_one_line_error(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "questions.jsonl").write_text('{"id": "a", "question": "Why?"}\n')
    code, output = _invoke(*args, "--out", str(tmp_path / "out"))
    assert code == 1
    assert message in output
    assert not (tmp_path / "out").exists()
