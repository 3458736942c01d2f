"""The transcript's HTML and Markdown of a generated answer (no server, no browser)."""

from __future__ import annotations

from index.models import Answer, Citation, Claim
from ui.render import answer_html
from ui.render.markdown import answer_markdown

PASSAGE = "Sources of MSCs are limited. They come from bone marrow, fat, and cord blood."
QUOTE = "They come from bone marrow, fat, and cord blood."


def generated() -> Answer:
    start = PASSAGE.index(QUOTE)
    citation = Citation(
        n=1, doc_id="d", title="T", source="s", page=1, passage=PASSAGE, quote=QUOTE,
        quote_start=start, quote_end=start + len(QUOTE), chunk_id="d#1",
    )  # fmt: skip
    first = "MSCs come from bone marrow [1]."
    second = "They cure <b>everything</b>."
    text = f"{first} {second}"
    return Answer(
        question="Where from?",
        answer=text,
        abstained=False,
        mode="generative",
        searched="Where are MSCs obtained from?",
        citations=[citation],
        claims=[
            Claim(text=first, start=0, end=len(first), cites=[1], verdict="supported",
                  support=0.8, quote=citation),
            Claim(text=second, start=len(first) + 1, end=len(text), verdict="uncited",
                  reason="no [n] marker cites a passage"),
            Claim(text="Pfizer sells them [1].", start=len(text), end=len(text), cites=[],
                  verdict="unsupported", reason="Pfizer not in [1]"),
        ],
    )  # fmt: skip


def test_each_checked_sentence_carries_its_verdict_and_clickable_markers() -> None:
    html = answer_html(generated(), 3)
    assert 'class="pt-claim pt-v-supported"' in html and 'class="pt-claim pt-v-uncited"' in html
    assert 'data-turn="3" data-n="1"' in html
    assert "&lt;b&gt;everything&lt;/b&gt;" in html and "<b>" not in html
    assert "no [n] marker cites a passage" in html  # the reason, on hover
    assert "Pfizer" not in html and "1 unsupported sentence removed" in html


def test_while_written_the_unchecked_rest_shows_without_its_markers() -> None:
    partial = generated().model_copy(update={"claims": generated().claims[:1]})
    html = answer_html(partial, 0, pending="They are found in fat [2")
    assert "pt-writing" in html and "They are found in fat<" in html
    html = answer_html(partial, 0, pending="They are found in fat [2][3] and")
    assert "[2]" not in html and "They are found in fat and" in html


def test_the_wait_is_shown_until_the_llm_writes_and_its_text_replaces_it() -> None:
    nothing = Answer(question="Where from?", answer="", abstained=False)
    wait = "Reading the passages with the local model…"
    html = answer_html(nothing, 0, pending="", waiting=wait)
    assert "pt-writing" in html and f'<span class="pt-waiting" role="status">{wait}</span>' in html
    html = answer_html(nothing, 0, pending="Sources of MSCs", waiting=wait)
    assert "pt-waiting" not in html and "Sources of MSCs" in html
    checked = generated().model_copy(update={"claims": generated().claims[:1]})
    assert "pt-waiting" not in answer_html(checked, 0, pending="", waiting=wait)


def test_markdown_lists_each_verdict_and_what_was_searched() -> None:
    md = answer_markdown(generated())
    assert "*Searched for:* Where are MSCs obtained from?" in md
    assert "- ✓ supported: MSCs come from bone marrow [1]." in md
    assert "- ✗ unsupported (removed): Pfizer sells them [1]. — Pfizer not in [1]" in md
    assert f"> “{QUOTE}”" in md
