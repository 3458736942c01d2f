"""The research scripts in experiments/ still run, each on a tiny slice, as `python -m`.

Each runs in its own process (some set module globals) from the repository root, which is
how experiments/README.md says to run them. The assertions read the table or JSON each one
prints, so a script that runs but reports nothing, or garbage, fails too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (REPO / "experiments").glob("*.py") if p.stem != "__init__")
SCORE = r"[01]\.\d{3}"


def _run(module: str, *args: str | Path, timeout: float = 600) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    done = subprocess.run(
        [sys.executable, "-m", f"experiments.{module}", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_experiment_has_a_smoke_test_and_a_readme_entry() -> None:
    tested = {name.removeprefix("test_").split("_runs")[0] for name in globals()}
    readme = (REPO / "experiments" / "README.md").read_text()
    for module in EXPERIMENTS:
        assert module in tested, f"experiments/{module}.py has no smoke test"
        assert f"experiments.{module}" in readme, f"experiments/{module}.py not in the README"


def test_experiments_are_not_in_the_installed_package() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packaged = find_packages(REPO, include=find["find"]["include"])
    assert "eval" in packaged
    assert not [p for p in packaged if p.startswith(("experiments", "tests"))], packaged


def test_probe_retrieval_runs_on_two_articles(tmp_path: Path) -> None:
    out = _run("probe_retrieval", "--split", "dev", "--limit", "2", "--cache", tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 13
    assert all(re.fullmatch(rf"\| [^|]+( \| {SCORE}){{5}} \|", row) for row in rows), rows
    assert re.search(rf"\| bm25 \(terms\) \| {SCORE}", out)


def test_probe_weights_runs_on_three_questions_per_set(tmp_path: Path) -> None:
    out = _run("probe_weights", "--limit", "3", "--cache", tmp_path, "0.55,0.6", "0.5,0.5")
    covid = rf"{SCORE}\d {SCORE}\d {SCORE}\d"  # hit@1 hit@5 MRR@10
    rows = re.findall(rf"^(\d\.\d\d) (\d\.\d\d) \| {covid} \| {SCORE}$", out, re.M)
    assert rows == [("0.55", "0.60"), ("0.50", "0.50")], out


def test_probe_answer_runs_on_three_questions_per_set(tmp_path: Path) -> None:
    out = _run("probe_answer", "--limit", "3", "--cache", tmp_path)
    assert (tmp_path / "features.jsonl").is_file()
    rows = [line for line in out.splitlines() if re.match(r"^0\.\d \| ", line)]
    assert len(rows) == 8, out  # one per support variant
    assert all(re.search(rf"\| {SCORE} \| {SCORE} / {SCORE} / {SCORE} \|", r) for r in rows)
    out = _run("probe_answer", "--selection", "--limit", "3", "--cache", tmp_path)
    assert len(re.findall(rf"answer_contains {SCORE} citation precision {SCORE}", out)) == 5


def test_probe_answerable_runs_on_three_questions_per_set(tmp_path: Path) -> None:
    out = _run("probe_answerable", "--limit", "3", "--out", tmp_path)
    assert (tmp_path / "rows.jsonl").is_file()
    assert re.search(rf"^docword_min +{SCORE} ", out, re.M), out  # a row of the AUC table
    assert re.search(r"^support_logit \| ", out, re.M), out  # the combined feature sets
    assert "ms uncached" in out  # the cost per question


def test_probe_reader_runs_training_and_scoring_on_four_articles() -> None:
    out = _run("probe_reader", "--limit", "4", "--epochs", "1")
    assert re.search(r"^pairs: train \d+, held out \d+", out, re.M), out
    for row in ("all", "answer vs near miss", "answer vs other sentence"):
        assert re.search(rf"^{row} +{SCORE} +{SCORE}$", out, re.M), out  # cosine, reader


def _small_trust_run(folder: Path) -> Path:
    """A trust.json of 12 questions: answerable ones score high on "a"; "b" is noise."""
    questions, asked = [], []
    for i in range(12):
        ok = i % 3 != 0
        questions.append(
            {"id": f"q{i}", "question": f"How many cells in trial {i}?", "answerable": ok}
        )
        features = {"a": (0.8 if ok else 0.2) + i / 100, "b": (i * 7 % 5) / 5, "eligible": 1.0}
        quotes = [f"Trial {i} enrolled {10 * i} cells."]
        asked.append(
            {"id": f"q{i}", "condition": "alone", "support_features": features, "quotes": quotes}
        )
    trust = folder / "trust.json"
    trust.write_text(json.dumps({"run": {"questions": questions, "asked": asked}}))
    return trust


def test_probe_reader_runs_against_the_trust_features(tmp_path: Path) -> None:
    trust = _small_trust_run(tmp_path)
    out = _run("probe_reader", "--limit", "2", "--epochs", "1", "--trust", trust)
    assert "12 questions with quotes (4 not answerable)" in out, out
    assert re.search(rf"^reader AUC {SCORE}$", out, re.M), out
    rows = re.findall(
        rf"^\d features \| without reader ({SCORE}) \| with reader ({SCORE})$", out, re.M
    )
    assert len(rows) == 2 and rows[0][0] == "1.000", out  # "a" alone separates them


def test_probe_ceiling_runs_on_a_small_trust_run(tmp_path: Path) -> None:
    # "a" alone reaches the ceiling.
    out = _run("probe_ceiling", "--trust", _small_trust_run(tmp_path), "--max-features", "2")
    assert "12 questions (4 unanswerable)" in out, out
    assert re.search(r"^1 \| 1\.000 \| a$", out, re.M), out
    assert re.search(rf"^2 \| {SCORE} \| a\+b$", out, re.M), out


def test_probe_occlusion_runs_on_a_small_trust_run(tmp_path: Path) -> None:
    out = _run("probe_occlusion", "--trust", _small_trust_run(tmp_path))
    assert "12 questions with quotes (4 not answerable)" in out, out
    for name in ("cosine", "occlusion", "occlusion_best", "occlusion_mean", "score"):
        assert re.search(rf"^{name} +({SCORE}|-) +({SCORE}|-)$", out, re.M), out
    assert re.search(rf"^cosine +{SCORE} ", out, re.M), out  # both kinds in the dev half


def test_probe_llm_rerank_runs_its_parser_and_reorder_without_the_llm() -> None:
    # A real run needs the local model (minutes a question on 2 cores): only the parts
    # that need no LLM are checked here.
    out = _run("probe_llm_rerank", "--help")
    assert all(o in out for o in ("--sample", "--depth", "--chars", "--out")), out
    check = """
from types import SimpleNamespace
from experiments.probe_llm_rerank import moved_first, parse_choice, schema
ps = [SimpleNamespace(chunk_id=c) for c in "abcd"]
assert [p.chunk_id for p in moved_first(ps, "c")] == list("cabd")
assert moved_first(ps, None) == ps and moved_first(ps, "z") == ps
assert parse_choice('{"passage": 2}', 4) == 2 and parse_choice('{"passage": 0}', 4) is None
for bad in ('{"passage": 5}', '{"passage": true}', "yes", '{"n": 1}'):
    try:
        parse_choice(bad, 4)
    except ValueError:
        continue
    raise AssertionError(bad)
assert schema(3)["properties"]["passage"]["enum"] == [0, 1, 2, 3]
"""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_probe_judge_runs_its_quote_check_and_table_without_the_llm() -> None:
    # A real run needs the local model: only the quote check and the scoring are run here.
    out = _run("probe_judge", "--help")
    assert all(o in out for o in ("--split", "--variants", "--out")), out
    check = """
from types import SimpleNamespace
from experiments.probe_judge import _quoted, table
ps = [SimpleNamespace(text="The dose was 2 x 10^6 cells/kg.")]
assert _quoted({"answerable": True, "quote": "the dose  was 2 x 10^6 cells/kg"}, ps)
assert not _quoted({"answerable": True, "quote": "the dose was 5 cells"}, ps)
assert not _quoted({"answerable": False, "quote": "the dose was 2 x 10^6 cells/kg"}, ps)
rows = [
    {"answerable": True, "floor": False, "a": {"accept": True, "s": 1.0}},
    {"answerable": True, "floor": False, "a": {"accept": False, "s": 3.0}},
    {"answerable": False, "floor": True},
    {"answerable": False, "floor": False, "a": {"accept": True, "s": 2.0}},
]
text = table({"split": "dev", "variants": ["a"], "rows": rows})
assert "a                    0.500          0.500        2.00" in text, text
"""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_bench_embedding_runs_one_small_round() -> None:
    out = _run("bench_embedding", "--rounds", "1", "--sentences", "8", "--chunks", "2")
    rows = [line for line in out.splitlines() if line.startswith(("| sentences", "| 1,000"))]
    assert len(rows) == 6, out  # two text kinds, three backends
    int8 = next(r for r in rows if r.startswith("| sentences | onnx-int8"))
    assert float(int8.split("|")[5]) > 0.9  # min cosine to torch


def test_bench_micro_batch_runs_one_small_round() -> None:
    out = _run("bench_micro_batch", "--rounds", "1", "--limit", "40", "--articles", "2")
    rows = [line for line in out.splitlines() if line.startswith("| int8")]
    assert len(rows) == 11, out  # four int8 rows: throughput, cosine to fp32; three ingest
    shipped = next(r for r in rows if "(shipped)" in r)
    assert shipped.split("|")[5].strip().startswith("1.0000000 /")  # the same alone


@pytest.mark.slow
def test_probe_finetune_runs_train_and_eval_on_four_questions(tmp_path: Path) -> None:
    model = tmp_path / "model"
    out = _run("probe_finetune", "train", "--on", "A", "--limit", "4", "--epochs", "1",
               "--batch-size", "4", "--out", model)  # fmt: skip
    info = json.loads(out.splitlines()[-1])
    assert info["examples"] > 0 and info["half"] == "A"
    assert (model / "finetune.json").is_file()
    out = _run("probe_finetune", "eval", "--on", "B", "--limit", "4", "--out", tmp_path / "ev")
    row = json.loads(out.splitlines()[-1])
    assert row["n_questions"] == 4 and 0.0 <= row["hit@5"] <= 1.0


@pytest.mark.slow
def test_probe_crossencoder_runs_train_and_eval_on_three_questions(tmp_path: Path) -> None:
    model = tmp_path / "ce"
    out = _run("probe_crossencoder", "train", "--on", "A", "--limit", "3", "--batch-size", "8",
               "--out", model)  # fmt: skip
    assert json.loads(out.splitlines()[-1])["pairs"] > 0
    out = _run("probe_crossencoder", "eval", "--on", "B", "--limit", "3", "--model", model)
    result = json.loads(out)
    assert result["n_questions"] > 0
    assert {"pipeline", "cross-encoder", "mix w=0.5"} <= set(result["metrics"])


@pytest.mark.slow
def test_bench_onnx_library_runs_on_a_tiny_slice() -> None:
    # sentence-transformers[onnx] needs transformers < 4.58, PaperTrail runs 5 (see the script)
    pytest.importorskip("optimum.onnxruntime", reason="optimum-onnx is not installed")
    out = _run("bench_onnx_library", "--rounds", "1", "--limit", "40")
    for variant in ("ours (onnx-int8)", "library, avx512_vnni preset"):
        assert re.search(rf"^\| {re.escape(variant)} \| [\d.]+ \| [\d,]+ \| [\d,]+ \|", out, re.M)
        assert re.search(rf"^\| {re.escape(variant)} \| {SCORE}\d \| {SCORE}\d \|", out, re.M)
