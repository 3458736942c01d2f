"""The scale benchmark's library and README plumbing (measuring is `make bench-scale`)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

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
    assert len(cells[5].split(", ")) == 2  # each run's first answer
    assert len(cells[6].split(", ")) == 1  # the same answers in every run
    after = sorted(p.relative_to(settings.index_dir) for p in settings.index_dir.rglob("*"))
    assert after == before


class _CountingEmbedder:
    """Stands for the model: a distinct vector per text, and a count of texts embedded."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def get_text_embedding_batch(self, texts: list[str], **_: object) -> list[list[float]]:
        self.texts += texts
        return [[float(len(t)), float(sum(map(ord, t)) % 997), 1.0] for t in texts]


def test_reused_vectors_give_a_copys_sentences_their_originals_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.sentences import split_sentences

    articles = bench_scale._articles()[:2]
    monkeypatch.setattr(bench_scale, "_articles", lambda: articles)
    real = _CountingEmbedder()
    reused = bench_scale._ReusedVectors(real, tmp_path / "reuse")
    originals = len(real.texts)
    assert originals == len(
        {bench_scale._key(s.text) for a in articles for s in split_sentences(a["context"])}
    )
    copy = [s.text for s in split_sentences(bench_scale._copy(articles[0]["context"], 3))]
    got = reused.get_text_embedding_batch(copy)
    made_anew = len(real.texts) - originals
    assert made_anew < 0.15 * len(copy)  # most sentences found, the rest embedded for real
    own = {t: v for t, v in zip(real.texts, real.get_text_embedding_batch(real.texts), strict=True)}
    for text, vector in zip(copy, got, strict=True):
        originals_text = next(t for t in own if bench_scale._key(t) == bench_scale._key(text))
        assert list(vector) == own[originals_text]
    reused.save()
    again = bench_scale._ReusedVectors(_CountingEmbedder(), tmp_path / "reuse")
    assert [list(v) for v in again.get_text_embedding_batch(copy)] == [list(v) for v in got]


def test_results_are_rows_with_the_issues_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {
        "k",
        "papers",
        "chars",
        "ingest_s",
        "ask_p50_ms",
        "ask_p95_ms",
        "first_answer_s",
        "add_answer_s",
        "rss_mb",
        "bytes_per_char",
        "hit5",
    }
    seen: list[int] = []

    def fake_measure(tree: Path, k: int, *args: object, **kwargs: object) -> dict[str, object]:
        seen.append(k)
        return {f: 1.0 for f in fields - {"k"}} | {"disk_mb": 1.0, "vectors": "real"}

    monkeypatch.setattr(bench_scale, "measure", fake_measure)
    bench_scale.main(["--k", "25", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "results.json").read_text())
    assert seen == [1, 4, 10, 25]  # a single --k is the curve up to it
    assert [r["k"] for r in rows] == seen and all(fields <= r.keys() for r in rows)
    assert "<svg" in (tmp_path / "report.html").read_text()


class _ScopedLibrary:
    """Two articles in two copies each; a search returns the best-fitting document of its
    scope first: another article's copy 1, then the question's own article's copies."""

    docs = tuple(f"covid-qa-{a}-r{r}.txt" for a in ("1", "2") for r in (0, 1))
    rank = ("covid-qa-2-r1.txt", "covid-qa-1-r1.txt", "covid-qa-1-r0.txt", "covid-qa-2-r0.txt")

    def documents(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(doc_id=d) for d in self.docs]

    def retrieve(self, question: str, k: int, doc_ids: object = None) -> list[SimpleNamespace]:
        scope = set(self.docs if doc_ids is None else doc_ids)  # type: ignore[call-overload]
        text = {"covid-qa-1-r0.txt": "the answer is here", "covid-qa-1-r1.txt": "here answer"}
        shown = [d for d in self.rank if d in scope][:1]  # a top 1 stands for the top 5
        return [SimpleNamespace(doc_id=d, text=text.get(d, "other words")) for d in shown]


def test_hit5_parts_search_the_originals_alone_and_the_own_article_once() -> None:
    qas = [("Where?", "1", "the answer is here"), ("What?", "2", "other words")]
    got = bench_scale._hit5(_ScopedLibrary(), qas)
    # Article 1: article 2's copy 1 comes first but among the originals alone, where its
    # own copy 0 does. Article 2: its copy 1 comes first, but not with its copies left out
    # (then article 1's copy 1), nor among the originals (article 1's copy 0).
    assert got == {
        "hit5": 0.5,
        "hit5_original": 0.0,
        "hit5_originals_only": 0.5,
        "hit5_others_copied": 0.0,
    }
