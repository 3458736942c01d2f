"""The bm25s keyword index: a cache derived from the Chroma collection.

Chroma's own sparse index is refused in local and single-server mode (chromadb 1.5.9),
so we keep one with bm25s. It is rebuilt whenever the collection's revision differs
from the one the cache was built at, so the two can never disagree for long.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
from dataclasses import dataclass
from typing import Any

from index.settings import Settings
from index.store import Store

__all__ = ["KeywordIndex", "terms"]

_STEMMER: Any = None


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


_BRITISH = re.compile(r"is(ation|ations|e|es|ed|ing)$")


def _stem(word: str) -> str:
    """Snowball, plus spelling variants and acronym plurals it leaves apart."""
    if len(word) > 6:
        word = _BRITISH.sub(r"iz\1", word)  # standardisation ~ standardization
    stem: str = _stemmer().stemWord(word)
    if len(stem) >= 3 and stem.endswith("s") and not re.search(r"[aeiouy]", stem[:-1]):
        stem = stem[:-1]  # MSCs ~ MSC: Snowball keeps the s when no vowel precedes it
    return stem


def _tokenizer() -> Any:
    from bm25s.tokenization import Tokenizer

    return Tokenizer(lower=True, stopwords="en", stemmer=_stem)


def terms(text: str) -> list[str]:
    """Stemmed, stopword-free terms, as the keyword index sees them."""
    # A fresh tokenizer: a reused one stops adding unseen words to its vocabulary.
    out = _tokenizer().tokenize([text], return_as="string", show_progress=False)
    return list(out[0]) if out else []


@dataclass
class _Built:
    revision: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    bm25: Any


class KeywordIndex:
    """BM25 over every chunk in the store, rebuilt when the store changes."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._dir = settings.index_dir / "bm25" / settings.collection
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def search(self, query: str, k: int) -> list[tuple[str, str, dict[str, Any], float]]:
        """Top-k (id, text, metadata, score), best first; only positive scores."""
        built = self._current()
        if not built.ids:
            return []
        tokens = [[t for t in terms(query) if t in built.bm25.vocab_dict]]
        if not tokens[0]:
            return []
        docs, scores = built.bm25.retrieve(
            tokens, k=min(k, len(built.ids)), show_progress=False, n_threads=1
        )
        return [
            (built.ids[i], built.texts[i], built.metadatas[i], float(s))
            for i, s in zip(docs[0], scores[0], strict=True)
            if s > 0
        ]

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25 idf of each stemmed term; a term the corpus lacks gets the highest idf."""
        built = self._current()
        n = len(built.ids)
        vocab = built.bm25.vocab_dict if n else {}
        indptr = built.bm25.scores["indptr"] if n else None
        out = {}
        for word in set(words):
            tid = vocab.get(word)
            df = 0 if tid is None or indptr is None else int(indptr[tid + 1] - indptr[tid])
            out[word] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def _current(self) -> _Built:
        revision = self._store.revision()
        with self._lock:
            if self._built is None or self._built.revision != revision:
                self._built = self._load(revision) or self._build(revision)
            return self._built

    def _load(self, revision: str) -> _Built | None:
        meta_path = self._dir / "meta.json"
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("revision") != revision:
                return None
            import bm25s

            bm25 = bm25s.BM25.load(str(self._dir), show_progress=False)
        except Exception:  # a broken cache is rebuilt, never trusted
            return None
        ids, texts, metas = self._store.all_chunks()
        if ids != meta["ids"]:
            return None
        return _Built(revision, ids, texts, metas, bm25)

    def _build(self, revision: str) -> _Built:
        import bm25s

        ids, texts, metas = self._store.all_chunks()
        tokenizer = _tokenizer()
        bm25 = bm25s.BM25()
        if ids:
            corpus_tokens = tokenizer.tokenize(texts, return_as="tuple", show_progress=False)
            bm25.index(corpus_tokens, show_progress=False)
            self._save(revision, ids, bm25)
        return _Built(revision, ids, texts, metas, bm25)

    def _save(self, revision: str, ids: list[str], bm25: Any) -> None:
        tmp = self._dir.with_name(self._dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        bm25.save(str(tmp), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps({"revision": revision, "ids": ids}))
        shutil.rmtree(self._dir, ignore_errors=True)
        tmp.rename(self._dir)
