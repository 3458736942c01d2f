"""Cleaning: page furniture goes, words re-join, headings are found and nothing else is."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.cleaning import clean
from index.loaders import RawDocument, load_file
from index.sections import find_headings
from index.settings import BUNDLED_CORPUS

SAMPLE_HEADINGS = ["4.1.2", "4.2", "4.3", "4.4", "4.5", "5", "5.1"]


def _raw(*pages: str) -> RawDocument:
    return RawDocument(doc_id="t", title="t", source="t", content_hash="h", pages=list(pages))


@pytest.fixture(scope="module")
def bundled():
    return clean(load_file(BUNDLED_CORPUS))


def test_bundled_page_loses_its_furniture(bundled) -> None:
    raw = BUNDLED_CORPUS.read_text()
    assert "IJMMS_2024v14n2" in raw and "medscipublisher" in raw and "MjQ4ODYzNQ==" in raw
    assert "IJMMS_2024v14n2" not in bundled.text
    assert "medscipublisher" not in bundled.text
    assert "International Journal of Molecular Medical Science" not in bundled.text
    assert "RkJQdWJsaXNoZXIy" not in bundled.text
    assert bundled.text.startswith("4.1.2 Validity")
    assert bundled.text.endswith("controllable quality of MSCs, how to")


def test_bundled_page_keeps_its_printed_page_number(bundled) -> None:
    assert [(p.page, p.label) for p in bundled.pages] == [(1, "128")]


def test_inline_headings_are_found_with_their_titles(bundled) -> None:
    assert [s.number for s in bundled.sections] == SAMPLE_HEADINGS
    titles = {s.number: s.title for s in bundled.sections}
    assert titles["4.4"] == "Technical challenges of cell origin, isolation and culture"
    assert titles["4.1.2"] == "Validity"
    assert titles["5"] == "Prospect and Research Direction"
    assert titles["4.2"] == "Complexity and unpredictability of immune regulatory mechanisms"


def test_heading_offsets_slice_back_to_the_heading(bundled) -> None:
    for s in bundled.sections:
        assert bundled.text[s.start : s.end] == s.heading


def test_headings_stand_in_paragraphs_of_their_own(bundled) -> None:
    for s in bundled.sections:
        assert s.start == 0 or bundled.text[s.start - 2 : s.start] == "\n\n"
        assert bundled.text[s.end : s.end + 2] == "\n\n"


@pytest.mark.parametrize(
    "text",
    [
        "Patients received 2 Doses of the vaccine. Then 3 Weeks passed.",
        "In 2019 Chen et al. found it. Vol. 14 No. 2 of the Journal.",
        "The dose was 10 mg. 12 Patients were excluded. IL-10 Levels rose.",
        "See Figure 3 Panel B for details. Table 2 Summary is below.",
    ],
)
def test_numbers_in_running_text_are_not_headings(text: str) -> None:
    assert find_headings(text) == []


def test_numbered_headings_must_continue_the_outline() -> None:
    text = (
        "1 Introduction The aim is clear. 2 Methods We did it. 7 Patients were seen. "
        "3 Results We saw it."
    )
    assert [h.number for h in find_headings(text)] == ["1", "2", "3"]


def test_markdown_headings_become_sections() -> None:
    doc = clean(_raw("# A Title\n\nIntro text here.\n\n## 2.1 Methods\n\nWe measured it."))
    assert [(s.number, s.title) for s in doc.sections] == [(None, "A Title"), ("2.1", "Methods")]


def test_repeated_header_footer_and_page_numbers_are_removed() -> None:
    topics = ["alpha", "beta", "gamma", "delta"]
    body = [f"Finding {w} of the cohort was {w}-specific." for w in "red green blue cyan".split()]
    pages = [
        "\n".join(
            [
                "Journal of Tests 2024; 12: 1-9",
                f"The {topic} arm used immuno-",
                f"modulatory {topic} cells.",
                *body,
                str(n),
            ]
        )
        for n, topic in enumerate(topics, start=1)
    ]
    doc = clean(_raw(*pages))
    assert "Journal of Tests" not in doc.text
    assert "immunomodulatory" in doc.text
    assert [p.label for p in doc.pages] == ["1", "2", "3", "4"]
    for p in doc.pages:
        assert doc.text[p.start :].startswith(f"The {topics[p.page - 1]} arm")


def test_hyphen_before_a_capital_or_digit_is_kept() -> None:
    doc = clean(_raw("levels of IL-\n10 and anti-\nTNF drugs"))
    assert "IL-10" in doc.text and "anti-TNF" in doc.text


def test_whitespace_is_normalised_but_paragraphs_kept() -> None:
    doc = clean(_raw("first   line\nwraps here\n\n\n\nsecond\tparagraph"))
    assert doc.text == "first line wraps here\n\nsecond paragraph"


def test_ordinary_text_lines_are_not_mistaken_for_watermarks(tmp_path: Path) -> None:
    doc = clean(_raw("Results\nCOVID-19 SARS-CoV-2 ACE2\nTransmission"))
    assert "SARS-CoV-2" in doc.text
