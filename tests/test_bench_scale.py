"""The scale benchmark's library and README plumbing (measuring is `make bench-scale`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval import bench_scale


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
