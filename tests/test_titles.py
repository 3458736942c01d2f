"""A text or Markdown file is titled from its first heading or line, not its file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.loaders import load_file


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("notes.md", "Preface line\n\n# Coral reef survey 2024\n\nBody.", "Coral reef survey 2024"),
        ("notes.md", "Coral reef survey\n=================\n\nBody text.", "Coral reef survey"),
        ("reef_notes.txt", "\n\nReef survey 2024\n\nCorals bleach.", "Reef survey 2024"),
        ("reef_notes.txt", "## Tidal records ##\n\nThe tide peaked at 3.9 m.", "Tidal records"),
    ],
)  # fmt: skip
def test_title_comes_from_the_first_heading_or_line(
    tmp_path: Path, name: str, text: str, title: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert load_file(path).title == title


def test_a_file_that_opens_with_prose_keeps_its_file_name_as_title(tmp_path: Path) -> None:
    path = tmp_path / "reef_notes.txt"
    path.write_text(
        "Corals bleach when the water stays above thirty degrees for more than a week.\n"
    )
    assert load_file(path).title == "reef notes"
