"""The `papertrail` command: JSON schema, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.settings import BUNDLED_CORPUS
from ui.cli import app

runner = CliRunner()

CITATION_FIELDS = {
    "n", "doc_id", "title", "source", "page", "section", "passage", "quote", "quote_start",
    "quote_end",
}  # fmt: skip
PASSAGE_FIELDS = {"chunk_id", "doc_id", "title", "source", "text", "start", "end", "page", "score"}


@pytest.fixture
def index_dir(tmp_path: Path) -> str:
    result = runner.invoke(app, ["ingest", str(BUNDLED_CORPUS), "--index-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return str(tmp_path)


def test_ask_json_matches_the_documented_schema(index_dir: str) -> None:
    result = runner.invoke(
        app,
        [
            "ask",
            "What are the barriers to MSC standardisation?",
            "--json",
            "--index-dir",
            index_dir,
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data["answer"], str) and data["abstained"] is False
    assert data["citations"] and data["passages"]
    for c in data["citations"]:
        assert CITATION_FIELDS <= set(c)
        assert c["passage"][c["quote_start"] : c["quote_end"]] == c["quote"]
        assert f"[{c['n']}]" in data["answer"]
    for p in data["passages"]:
        assert PASSAGE_FIELDS <= set(p)
        assert isinstance(p["score"], float)


def test_ask_plain_prints_the_answer_and_numbered_sources(index_dir: str) -> None:
    result = runner.invoke(
        app, ["ask", "Which cytokines do MSCs secrete?", "--index-dir", index_dir]
    )
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.stdout and "[1]" in result.stdout and "p. 128" in result.stdout


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_ask_warns_of_weak_support_only_below_the_setting(
    index_dir: str, threshold: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERTRAIL_ANSWER__WEAK_SUPPORT", str(threshold))
    question = "What are the barriers to MSC standardisation?"
    result = runner.invoke(app, ["ask", question, "--index-dir", index_dir])
    assert result.exit_code == 0, result.output
    as_json = runner.invoke(app, ["ask", question, "--index-dir", index_dir, "--json"])
    answer = json.loads(as_json.output)
    assert not answer["abstained"]
    assert answer["weak_support"] == (threshold == 1.0)
    assert ("Weak support (" in result.output) == (threshold == 1.0)


def test_empty_question_exits_1_with_a_one_line_message(index_dir: str) -> None:
    result = runner.invoke(app, ["ask", "   ", "--index-dir", index_dir])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: the question is empty; type a question about your documents"
    ]


def test_ingest_reports_bad_files_and_exits_1_after_indexing_the_rest(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.pdf"
    good.write_text("Coral polyps host photosynthetic algae.")
    bad.write_bytes(b"not a pdf at all")
    index = str(tmp_path / "index")
    result = runner.invoke(app, ["ingest", str(bad), str(good), "--index-dir", index])
    assert result.exit_code == 1
    assert "bad.pdf" in result.stderr and "not a readable PDF" in result.stderr
    listed = runner.invoke(app, ["list", "--json", "--index-dir", index])
    assert [d["doc_id"] for d in json.loads(listed.stdout)] == ["good.txt"]


def test_ingest_replace_takes_one_file_into_a_documents_place(tmp_path: Path) -> None:
    old, new = tmp_path / "preprint.txt", tmp_path / "published.txt"
    old.write_text("Coral polyps host photosynthetic algae.")
    new.write_text("Coral polyps host photosynthetic algae called zooxanthellae.")
    index = str(tmp_path / "index")
    runner.invoke(app, ["ingest", str(old), "--index-dir", index])
    both = runner.invoke(
        app, ["ingest", str(old), str(new), "--replace", "preprint.txt", "--index-dir", index]
    )
    assert both.exit_code == 1
    assert "--replace preprint.txt takes exactly one file; 2 were given" in both.stderr
    result = runner.invoke(
        app, ["ingest", str(new), "--replace", "preprint.txt", "--index-dir", index]
    )
    assert result.exit_code == 0 and result.stdout.startswith("replaced")
    listed = json.loads(runner.invoke(app, ["list", "--json", "--index-dir", index]).stdout)
    assert [(d["doc_id"], d["source"]) for d in listed] == [("preprint.txt", str(new))]


def test_list_and_remove_a_document(index_dir: str) -> None:
    listed = json.loads(runner.invoke(app, ["list", "--json", "--index-dir", index_dir]).stdout)
    assert [d["pages"] for d in listed] == [1]
    doc_id = listed[0]["doc_id"]
    assert runner.invoke(app, ["remove", doc_id, "--index-dir", index_dir]).exit_code == 0
    again = runner.invoke(app, ["list", "--json", "--index-dir", index_dir])
    assert json.loads(again.stdout) == []
    missing = runner.invoke(app, ["remove", doc_id, "--index-dir", index_dir])
    assert missing.exit_code == 1 and "no document" in missing.stderr


def test_out_of_range_setting_is_a_clear_error(index_dir: str, monkeypatch) -> None:
    monkeypatch.setenv("PAPERTRAIL_RETRIEVAL__TOP_K", "0")
    result = runner.invoke(app, ["ask", "Where are MSCs obtained from?", "--index-dir", index_dir])
    assert result.exit_code == 1
    assert "retrieval.top_k" in result.stderr


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("PAPERTRAIL_TOPK", "PAPERTRAIL_RETRIEVAL__TOP_K"),
        ("PAPERTRAIL_INDEXDIR", "PAPERTRAIL_INDEX_DIR"),
    ],
)
def test_misspelt_environment_setting_fails_loudly(
    index_dir: str, monkeypatch, variable, hint
) -> None:
    monkeypatch.setenv(variable, "3")
    result = runner.invoke(app, ["list", "--index-dir", index_dir])
    assert result.exit_code == 1
    assert variable in result.stderr and hint in result.stderr


def test_ask_on_a_fresh_index_answers_from_the_bundled_article(tmp_path: Path) -> None:
    fresh = str(tmp_path / "fresh")
    result = runner.invoke(
        app, ["ask", "What are the barriers to MSC standardisation?", "--index-dir", fresh]
    )
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout and "Sources:" in result.stdout
    assert "standardized evaluation system" in result.stdout


def test_ingest_summary_counts_only_what_was_stored(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.pdf"
    good.write_text("Coral polyps host photosynthetic algae.")
    bad.write_bytes(b"not a pdf at all")
    result = runner.invoke(app, ["ingest", str(good), str(bad), "--index-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 chunk of 1 document stored; 1 file failed" in result.stdout


def test_doctor_finds_and_clears_records_no_document_owns(index_dir: str) -> None:
    from index.store import open_store
    from rag import Settings

    store = open_store(Settings(index_dir=Path(index_dir)))
    store.registry.delete(ids=[BUNDLED_CORPUS.name])  # as a failed write used to leave it
    listed = runner.invoke(app, ["list", "--json", "--index-dir", index_dir])
    assert json.loads(listed.stdout) == []
    dry = runner.invoke(app, ["doctor", "--dry-run", "--json", "--index-dir", index_dir])
    assert json.loads(dry.stdout)["orphaned_documents"] == [BUNDLED_CORPUS.name]
    cleared = runner.invoke(app, ["doctor", "--index-dir", index_dir])
    assert cleared.exit_code == 0 and cleared.stdout.startswith("cleared ")
    again = runner.invoke(app, ["doctor", "--index-dir", index_dir])
    assert again.stdout.strip() == "ok: 0 documents, no orphaned records"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_serve_on_a_public_address_without_sign_in_is_refused(
    tmp_path: Path, monkeypatch, host: str
) -> None:
    monkeypatch.delenv("PAPERTRAIL_AUTH", raising=False)
    result = runner.invoke(app, ["serve", "--host", host, "--index-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: refusing to serve on {host} without sign-in")


@pytest.mark.parametrize("value", ["alice", "alice:", ":pw", "@/no/such/file"])
def test_a_malformed_auth_setting_is_an_error_that_shows_no_secret(
    tmp_path: Path, monkeypatch, value: str
) -> None:
    monkeypatch.setenv("PAPERTRAIL_AUTH", value)
    result = runner.invoke(app, ["list", "--index-dir", str(tmp_path)])
    assert result.exit_code == 1 and "auth:" in result.stderr
    assert "pw" not in result.stderr.replace("password", "")


def test_auth_reads_users_from_a_file(tmp_path: Path) -> None:
    from rag import Settings

    users = tmp_path / "users"
    users.write_text("# who may sign in\nalice:wonder land\n\nbob:b0b:colon\n")
    assert Settings(auth=f"@{users}").credentials() == [
        ("alice", "wonder land"),
        ("bob", "b0b:colon"),
    ]
