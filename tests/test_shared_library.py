"""Several processes, one library (#29): a real `chroma run` server, two real `papertrail
serve` processes (each its own index folder, so its own search cache) and `papertrail
ingest` subprocesses, all on one collection.

A paper written through any of them is answered (cited) by the others on their first
question after the write returns, within BOUND_S; a removal leaves their answers and
document lists alike; writes at once, or a writer killed mid-write, leave exactly one whole
document per file.
Each process answers from the revision it reads at the start of every question
(SearchIndex.refresh), so the bound is one question's work, not a polling interval.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ChromaServer
from ui_fixtures import OFFLINE_ENV, REPO, _papertrail, free_port, server_process

from rag import Engine, Settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

BOUND_S = 5.0  # the goal of #29: a new paper answerable in the other process within 5 s
COLLECTION = "shared"
KILLED_BATCH = 300  # files; the store writes 100 documents per registry call


@dataclass
class Library:
    server: ChromaServer
    a: httpx.Client  # serve process A
    b: httpx.Client  # serve process B
    env: dict[str, str]
    root: Path

    def ingest(self, *paths: Path, **popen: Any) -> subprocess.CompletedProcess[str]:
        """`papertrail ingest` in its own process, with its own index folder."""
        return subprocess.run(
            self.cli("ingest", *map(str, paths), "--json"),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO,
            timeout=600,
            check=False,
            **popen,
        )

    def cli(self, *args: str) -> list[str]:
        where = ["--index-dir", str(self.root / "cli"), "--chroma-url", self.server.url]
        return [*_papertrail(), *args, *where, "--collection", COLLECTION]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("shared-library")
    server = ChromaServer(root / "chroma-server")
    server.start()
    env = {**os.environ, **OFFLINE_ENV, "GRADIO_TEMP_DIR": str(root / "gradio")}
    with ExitStack() as stack:
        stack.callback(server.stop)
        clients = []
        for name in ("a", "b"):  # one after the other: A indexes the bundled article, B finds it
            port = free_port()
            cmd = [
                *_papertrail(),
                "serve",
                "--port",
                str(port),
                "--index-dir",
                str(root / name),
                "--chroma-url",
                server.url,
                "--collection",
                COLLECTION,
            ]
            url = f"http://127.0.0.1:{port}"
            log = root / f"serve-{name}.log"
            stack.enter_context(
                server_process(cmd, f"{url}/api/v1/documents", log, env=env, cwd=REPO)
            )
            clients.append(stack.enter_context(httpx.Client(base_url=url, timeout=120)))
        yield Library(server, clients[0], clients[1], env, root)


# -- helpers ---------------------------------------------------------------------------
def paper(word: str, days: int) -> str:
    """A short paper about an invented beetle: its own words, so no two are duplicates."""
    return (
        f"The {word} beetle of the northern dunes\n\n"
        f"The {word} beetle digests cellulose with the help of gut bacteria that fix nitrogen. "
        f"Adult {word} beetles live for {days} days and lay their eggs in wet sand. "
        f"Field surveys counted {days * 7} {word} beetles per hectare in late summer. "
        f"Their larvae feed on the roots of marram grass.\n"
    )


def question(word: str) -> str:
    return f"How long do {word} beetles live?"


def cites(client: httpx.Client, word: str, doc_id: str) -> bool:
    response = client.post("/api/v1/ask", json={"question": question(word)})
    assert response.status_code == 200, response.text
    return doc_id in {c["doc_id"] for c in response.json()["citations"]}


def listed(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/documents")
    assert response.status_code == 200, response.text
    return {d["doc_id"]: d for d in response.json()}


def within(check: Callable[[], bool], bound: float = BOUND_S) -> tuple[float, int]:
    """(seconds, tries) until `check()` holds, tried again and again; fails after `bound`."""
    start = time.monotonic()
    tries = 0
    while True:
        tries += 1
        if check():
            return time.monotonic() - start, tries
        if time.monotonic() - start > bound:
            pytest.fail(f"not within {bound:g} s ({tries} tries)")
        time.sleep(0.05)


def upload(client: httpx.Client, files: dict[str, str]) -> list[dict[str, Any]]:
    response = client.post(
        "/api/v1/documents",
        files=[("files", (name, text.encode(), "text/plain")) for name, text in files.items()],
    )
    assert response.status_code == 200, response.text
    return response.json()["files"]


def chroma(library: Library) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.HttpClient(
        host="127.0.0.1",
        port=library.server.port,
        settings=ChromaSettings(anonymized_telemetry=False),
    )


def in_chroma(library: Library) -> dict[str, Any]:
    """What the server holds: registry records, chunk and sentence records per document
    version, writes in progress."""
    client = chroma(library)
    registry = client.get_collection(f"{COLLECTION}-docs").get(include=["metadatas"])
    parts: dict[str, Counter[tuple[str, str]]] = {}
    for kind, name in (("chunks", COLLECTION), ("sentences", f"{COLLECTION}-sentences")):
        got = client.get_collection(name).get(include=["metadatas"])
        parts[kind] = Counter(
            (str(m["doc_id"]), str(m["generation"])) for m in got["metadatas"] or []
        )
    return {
        "registry": dict(zip(registry["ids"], registry["metadatas"] or [], strict=True)),
        **parts,
        "pending": client.get_collection(f"{COLLECTION}-pending").count(),
    }


def assert_whole(held: dict[str, Any]) -> None:
    """Every registered document has all its chunks and its sentences, in the version the
    registry names, and nothing else is stored: no part of another version, no orphan."""
    registry = held["registry"]
    for doc_id, m in registry.items():
        version = (doc_id, str(m["generation"]))
        assert held["chunks"][version] == int(m["chunks"]), (doc_id, "chunks")
        assert held["sentences"][version] >= 1, (doc_id, "sentences")
    visible = {(d, str(m["generation"])) for d, m in registry.items()}
    for kind in ("chunks", "sentences"):
        extra = set(held[kind]) - visible
        assert not extra, f"{kind} of no visible document version: {sorted(extra)[:5]}"


def by_name(documents: dict[str, dict[str, Any]], names: set[str]) -> Counter[str]:
    return Counter(
        Path(d["source"]).name for d in documents.values() if Path(d["source"]).name in names
    )


# -- a paper written anywhere is answered everywhere -----------------------------------
def test_a_paper_ingested_by_the_cli_is_cited_by_both_serve_processes_within_the_bound(
    library: Library,
) -> None:
    path = library.root / "varnok.txt"
    path.write_text(paper("varnok", 31))
    for client in (library.a, library.b):
        assert not cites(client, "varnok", "varnok.txt")
    done = library.ingest(path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["status"] == "indexed"
    for client in (library.a, library.b):
        seconds, tries = within(lambda c=client: cites(c, "varnok", "varnok.txt"))
        assert tries == 1 and seconds <= BOUND_S  # the first question after the ingest


def test_a_paper_uploaded_through_one_serve_process_is_cited_by_the_other_within_the_bound(
    library: Library,
) -> None:
    assert not cites(library.b, "quelbin", "quelbin.txt")
    (result,) = upload(library.a, {"quelbin.txt": paper("quelbin", 44)})
    assert result["status"] == "indexed", result
    seconds, tries = within(lambda: cites(library.b, "quelbin", "quelbin.txt"))
    assert tries == 1 and seconds <= BOUND_S
    assert "quelbin.txt" in listed(library.b)


def test_an_upload_through_the_other_serve_process_replaces_the_upload_of_that_name(
    library: Library,
) -> None:
    (first,) = upload(library.a, {"garnet.txt": paper("garnet", 10)})
    assert first["status"] == "indexed", first
    (second,) = upload(library.b, {"garnet.txt": paper("garnet", 12)})  # its own uploads/
    assert (second["status"], second["doc_id"]) == ("replaced", first["doc_id"]), second
    assert by_name(in_chroma(library)["registry"], {"garnet.txt"}) == {"garnet.txt": 1}
    for client in (library.a, library.b):
        assert by_name(listed(client), {"garnet.txt"}) == {"garnet.txt": 1}
        answer = client.post("/api/v1/ask", json={"question": question("garnet")}).json()
        assert "live for 12 days" in answer["answer"], answer["answer"]


def test_a_removal_through_one_serve_process_leaves_the_others_answers_and_list_in_the_bound(
    library: Library,
) -> None:
    (result,) = upload(library.b, {"tirrosh.txt": paper("tirrosh", 27)})
    assert result["status"] == "indexed", result
    within(lambda: cites(library.a, "tirrosh", "tirrosh.txt"))
    assert library.b.delete("/api/v1/documents/tirrosh.txt").status_code == 200
    for gone in (
        lambda: "tirrosh.txt" not in listed(library.a),
        lambda: not cites(library.a, "tirrosh", "tirrosh.txt"),
    ):
        seconds, tries = within(gone)
        assert tries == 1 and seconds <= BOUND_S
    assert "tirrosh.txt" not in in_chroma(library)["registry"]


# -- writes at once --------------------------------------------------------------------
@pytest.mark.parametrize("round_", range(3))
def test_both_serve_processes_uploading_at_once_keep_one_document_per_file(
    library: Library, round_: int
) -> None:
    own = {"a": f"ambrel-{round_}.txt", "b": f"bostik-{round_}.txt"}
    same = f"common-{round_}.txt"
    words = {own["a"]: f"ambrel{round_}", own["b"]: f"bostik{round_}", same: f"cummet{round_}"}
    texts = {name: paper(word, 20 + round_) for name, word in words.items()}
    start = threading.Barrier(2)
    results: dict[str, list[dict[str, Any]]] = {}

    def send(side: str, client: httpx.Client) -> None:
        files = {own[side]: texts[own[side]], same: texts[same]}
        start.wait()
        results[side] = upload(client, files)

    threads = [
        threading.Thread(target=send, args=(side, client))
        for side, client in (("a", library.a), ("b", library.b))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for side, files in results.items():  # none lost: every upload was indexed
        assert len(files) == 2 and all(
            f["status"] in ("indexed", "replaced", "unchanged") for f in files
        ), (side, files)
    names = set(words)
    held = in_chroma(library)
    assert by_name(held["registry"], names) == dict.fromkeys(names, 1)
    for client in (library.a, library.b):
        documents = listed(client)
        assert by_name(documents, names) == dict.fromkeys(names, 1)
        mine = {d: m for d, m in documents.items() if Path(m["source"]).name in names}
        assert not any(m["duplicate_of"] for m in mine.values()), mine
        for doc_id, m in mine.items():
            word = words[Path(m["source"]).name]
            within(lambda c=client, w=word, d=doc_id: cites(c, w, d))
    assert_whole(held)


def test_an_upload_indexed_before_uploads_had_names_is_replaced_not_copied(
    settings: Settings,
) -> None:
    engine = Engine.open(settings)
    kept = settings.index_dir / "uploads" / "garnet.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text(paper("garnet", 10))
    (first,) = engine.ingest([kept]).files
    old_key = {"source_key": str(kept.resolve())}  # what a registry record held before
    engine.store.registry.update(ids=[first.doc_id], metadatas=[old_key])
    kept.write_text(paper("garnet", 12))
    (again,) = Engine.open(settings).ingest([kept]).files
    assert (again.status, again.doc_id) == ("replaced", first.doc_id)
    assert [d.doc_id for d in engine.documents()] == [first.doc_id]
    record = engine.store.registry.get(ids=[first.doc_id], include=["metadatas"])
    assert record["metadatas"][0]["source_key"] == "upload:garnet.txt"


# -- a writer killed mid-batch ---------------------------------------------------------
def _batch(folder: Path, n: int) -> list[Path]:
    """n small papers, each of its own invented words."""
    import random

    rng = random.Random(29)
    syllables = ["ka", "lo", "mi", "ren", "tu", "vash", "zel", "qui", "dor", "fen", "gru", "hop"]
    folder.mkdir()
    paths = []
    for i in range(n):
        words = ["".join(rng.choices(syllables, k=3)) for _ in range(12)]
        text = f"Survey {i} of the {words[0]} marshes\n\n" + " ".join(
            f"The {words[k]} {words[k + 1]} grows near {words[k + 2]} pools in year {1900 + i}."
            for k in range(0, 9, 3)
        )
        paths.append(folder / f"batch-{i:04d}.txt")
        paths[-1].write_text(text + "\n")
    return paths


def test_a_cli_ingest_killed_mid_batch_shows_no_half_document_and_a_rerun_completes_it(
    library: Library,
) -> None:
    folder = library.root / "batch"
    names = {p.name for p in _batch(folder, KILLED_BATCH)}
    client = chroma(library)
    registry = client.get_collection(f"{COLLECTION}-docs")
    sentences = client.get_collection(f"{COLLECTION}-sentences")
    before = registry.count()
    settled = sentences.count() - before  # 0: one sentence record per (small) document

    def mid_write() -> bool:
        """Documents of the batch have landed and the next write's parts are going in."""
        packs = sentences.count()  # first: a commit in between can only hide a write
        documents = registry.count()
        return documents > before and packs - documents > settled

    with (library.root / "killed.log").open("wb") as log:
        proc = subprocess.Popen(
            library.cli("ingest", str(folder)), stdout=log, stderr=log, env=library.env, cwd=REPO
        )
    try:
        deadline = time.monotonic() + 300
        while not mid_write():
            assert proc.poll() is None, "the ingest ended before the kill"
            assert time.monotonic() < deadline, "no second write began within 300 s"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    held = in_chroma(library)
    mine = {d: m for d, m in held["registry"].items() if Path(str(m["source"])).name in names}
    assert 0 < len(mine) < KILLED_BATCH, "the kill did not land mid-batch"
    visible = {(d, str(m["generation"])) for d, m in held["registry"].items()}
    assert held["pending"] > 0 and set(held["sentences"]) - visible, "not killed mid-write"
    # Nothing half-written is visible: each listed document is whole in the store, and both
    # serve processes list exactly the documents the registry names.
    for doc_id, m in mine.items():
        assert held["chunks"][(doc_id, str(m["generation"]))] == int(m["chunks"]), doc_id
    for client in (library.a, library.b):
        assert {d for d, m in listed(client).items() if Path(m["source"]).name in names} == set(
            mine
        )

    again = library.ingest(folder)
    assert again.returncode == 0, again.stderr
    statuses = Counter(f["status"] for f in json.loads(again.stdout)["files"])
    assert statuses == {"unchanged": len(mine), "indexed": KILLED_BATCH - len(mine)}
    held = in_chroma(library)
    assert held["pending"] == 0
    assert by_name(held["registry"], names) == dict.fromkeys(names, 1)
    assert_whole(held)  # the killed write's parts are gone too
    for client in (library.a, library.b):
        assert by_name(listed(client), names) == dict.fromkeys(names, 1)
