"""The scale benchmark's library and README plumbing (measuring is `make bench-scale`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench import scale as bench_scale
from rag import Engine, Settings


def test_copies_keep_title_and_sentences_and_are_not_taken_for_duplicates() -> None:
    from index.duplicates import DUPLICATE_OVERLAP, overlap, signature

    articles = bench_scale._articles()[:3]
    for a in articles:
        copies = [bench_scale._copy(a["context"], r) for r in range(11)]
        assert copies[0] == a["context"]
        title = a["context"].split("\n")[0]
        assert all(c.split("\n")[0] == title for c in copies)
        words = sorted(a["context"].split())
        assert all(sorted(c.split()) == words for c in copies)  # the same sentences
        signatures = [signature(c) for c in copies]
        for i, first in enumerate(signatures):
            for second in signatures[i + 1 :]:
                assert overlap(first, second) < DUPLICATE_OVERLAP


def test_readme_table_is_replaced_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    start, end = bench_scale._MARK
    readme.write_text(f"intro\n{start}\nold table\n{end}\nafter\n")
    bench_scale._update_readme(readme, "new table")
    assert readme.read_text() == f"intro\n{start}\nnew table\n{end}\nafter\n"


def test_readme_without_markers_is_an_error(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        bench_scale._update_readme(readme, "table")


def test_reopen_times_opening_a_copy_of_one_index_and_leaves_it_as_it_was(
    settings: Settings, tmp_path: Path
) -> None:
    note = tmp_path / "otter.txt"
    note.write_text("Sea otters use stones as tools to open shellfish on their chests.")
    Engine.open(settings).ingest([note])
    before = sorted(p.relative_to(settings.index_dir) for p in settings.index_dir.rglob("*"))
    table = bench_scale.reopen(
        {"this tree": bench_scale._ROOT}, settings.index_dir.parent, 2, tmp_path / "scratch"
    )
    (row,) = [line for line in table.splitlines() if line.startswith("| this tree")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) <= float(cells[2])  # open, then the first answer
    assert len(cells[4].split(", ")) == 2  # each run's first answer
    assert len(cells[5].split(", ")) == 1  # the same answers in every run
    after = sorted(p.relative_to(settings.index_dir) for p in settings.index_dir.rglob("*"))
    assert after == before
