"""The report files: results.json keeps the documented keys, HTML escapes every text."""

import json
import re
from pathlib import Path

from eval.evaluate import Evaluation
from eval.models import Results, SystemMetrics
from eval.report import format_table, write_outputs
from eval.scoring import CitedQuote, QuestionScore


def _evaluation() -> Evaluation:
    systems = {
        "papertrail": SystemMetrics(**{"hit@1": 0.8, "mrr@10": 0.5}, hit_curve=[0.8] * 10),
        "bm25": SystemMetrics(**{"hit@1": 0.4, "mrr@10": None}, hit_curve=[0.4] * 10),
    }
    row = QuestionScore(
        id="q<1>",
        phase="main",
        question="Is <script>alert(1)</script> escaped?",
        answerable=True,
        answer="Yes & no [1]",
        abstained=False,
        first_hit=1,
        token_f1=0.5,
        citations=[CitedQuote(n=1, doc_id="a&b.txt", quote="“<i>quoted</i>”", gold=True,
                              verbatim=True)],
        answer_ms=12.0,
    )  # fmt: skip
    results = Results(
        dataset="seed",
        split="all",
        n_questions=1,
        n_chunks=6,
        n_documents=1,
        corpus_chars=100,
        systems=systems,
    )
    return Evaluation(
        results=results,
        rows={"papertrail": [row], "bm25": []},
        latencies={"papertrail": [12.0, 30.0], "bm25": [0.5]},
    )


def test_results_json_uses_the_documented_metric_names(tmp_path: Path) -> None:
    write_outputs(_evaluation(), tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    metrics = data["systems"]["papertrail"]
    assert metrics["hit@1"] == 0.8 and metrics["mrr@10"] == 0.5
    assert data["systems"]["bm25"]["mrr@10"] is None
    assert "hit_1" not in metrics


def test_html_report_escapes_questions_answers_and_quotes(tmp_path: Path) -> None:
    write_outputs(_evaluation(), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>quoted</i>" not in html and "&lt;i&gt;quoted&lt;/i&gt;" in html
    assert "Yes &amp; no" in html and "a&amp;b.txt" in html
    assert html.count("<svg") == 2  # hit@k curves and latency box plots
    assert "✓ gold" in html


def test_table_gives_each_baseline_a_ratio_to_papertrail() -> None:
    table = format_table(_evaluation().results)
    hit1 = next(line for line in table.splitlines() if line.startswith("hit@1"))
    assert "0.800" in hit1 and "0.400 (0.50×)" in hit1
    mrr = next(line for line in table.splitlines() if line.startswith("mrr@10"))
    assert "–" in mrr  # not applicable: no value and no ratio


def _report(tmp_path: Path, evaluation: Evaluation | None = None) -> str:
    write_outputs(evaluation or _evaluation(), tmp_path)
    return (tmp_path / "report.html").read_text()


def test_html_table_marks_the_best_value_per_row_and_links_each_metric(tmp_path: Path) -> None:
    evaluation = _evaluation()
    evaluation.results.systems["papertrail"].false_abstention_rate = 0.2
    evaluation.results.systems["bm25"].false_abstention_rate = 0.1
    html = _report(tmp_path, evaluation)
    row = re.search(r"<tr><th scope='row'><a href='#def-hit-k'>hit@1</a></th>(.*?)</tr>", html)
    assert row, "hit@1 row missing or not linked"
    papertrail, bm25 = re.findall(r"<td class='([^']*)'>(.*?)</td>", row.group(1))
    assert papertrail[0] == "num best" and bm25[0] == "num"
    assert "(0.50×)" in bm25[1]
    lower = re.search(r"false_abstention_rate</a></th>(.*?)</tr>", html)
    assert lower and re.findall(r"<td class='([^']*)'>", lower.group(1)) == ["num", "num best"]
    for target in set(re.findall(r"href='#(def-[^']+)'", html)):
        assert f"id='{target}'" in html, target


def test_systems_differ_by_colour_marker_and_dash_so_equal_curves_stay_visible(
    tmp_path: Path,
) -> None:
    html = _report(tmp_path)  # both systems' curves are flat: 0.8 and 0.4
    lines = re.findall(r"<polyline fill='none' stroke='([^']+)' [^>]*dasharray='([^']*)'", html)
    assert len(lines) == 2 and len(set(lines)) == 2
    assert "<circle" in html and "<rect x=" in html  # one marker shape per system


def test_report_has_a_mobile_viewport(tmp_path: Path) -> None:
    html = _report(tmp_path)
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html


def test_a_small_run_says_its_figures_cannot_separate_the_systems(tmp_path: Path) -> None:
    small = _evaluation()
    assert "cannot separate the systems" in _report(tmp_path, small)
    assert "cannot separate the systems" in format_table(small.results)
    small.results.n_questions = 500
    assert "cannot separate" not in _report(tmp_path, small)
