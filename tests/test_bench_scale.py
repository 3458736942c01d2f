"""The scale benchmark's library and README plumbing (measuring is `make bench-scale`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval import bench_scale


def test_rotated_copies_keep_the_title_and_differ() -> None:
    context = "Title\nfirst\nsecond\nthird"
    copies = [bench_scale._rotated(context, r) for r in range(3)]
    assert all(c.startswith("Title\n") for c in copies)
    assert len(set(copies)) == 3
    assert sorted(copies[1].split("\n")) == sorted(context.split("\n"))


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
