"""The load test stays runnable: a tiny run against a real `papertrail serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.load import run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_small_load_run_answers_every_question_and_reports_memory(tmp_path: Path) -> None:
    result = run(sessions=2, questions=2, index_dir=tmp_path / "index")
    assert result.errors == [] and result.answers == 4
    assert result.client_cpu_s < result.server_cpu_s * 2  # it measures the server, not itself
    assert 0 < result.p50_s <= result.p95_s <= result.max_s
    assert result.rss_before_mb > 100 and result.rss_after_mb > 100


def test_an_unbounded_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--sessions must be 1\.\.50"):
        run(sessions=500, questions=5, index_dir=tmp_path / "index")
