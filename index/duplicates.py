"""Near-duplicate documents: word-shingle MinHash signatures and their overlap.

Researchers keep a preprint beside the published version, or the same PDF under two names.
Each document gets a MinHash of its word 5-shingles (kept in the registry, 512 bytes); two
documents are duplicates when the larger shares at least 90 % of its shingles with the
other. MinHash estimates the Jaccard index J; with the shingle counts a and b, the shared
shingles are J (a + b) / (1 + J).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DUPLICATE_OVERLAP",
    "Signature",
    "SignatureIndex",
    "best_match",
    "overlap",
    "signature",
]

DUPLICATE_OVERLAP = 0.9  # share of the larger document's shingles found in the other
_SHINGLE = 5  # words: long enough that unrelated papers share almost none
_PERMUTATIONS = 128  # standard error of the Jaccard estimate about 1/sqrt(128) ≈ 0.09 at J=0.5
_PRIME = 4_294_967_291  # the largest prime below 2^32: a x + b stays below 2^64
_RNG = np.random.default_rng(20261201)  # fixed: signatures must compare across processes
_A = _RNG.integers(1, _PRIME, _PERMUTATIONS, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, _PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Signature:
    minhash: np.ndarray  # _PERMUTATIONS uint32 values
    shingles: int  # distinct shingles in the document

    def encode(self) -> str:
        return base64.b64encode(self.minhash.astype("<u4").tobytes()).decode("ascii")

    @classmethod
    def decode(cls, text: str, shingles: int) -> Signature:
        return cls(np.frombuffer(base64.b64decode(text), dtype="<u4").copy(), shingles)


def signature(text: str) -> Signature:
    """The MinHash of `text`'s word 5-shingles (case and punctuation ignored)."""
    hashes = _shingle_hashes(text)
    if not hashes.size:
        return Signature(np.full(_PERMUTATIONS, 0xFFFFFFFF, dtype=np.uint32), 0)
    mins = ((_A[:, None] * hashes[None, :] + _B[:, None]) % _PRIME).min(axis=1)
    return Signature(mins.astype(np.uint32), int(hashes.size))


def overlap(a: Signature, b: Signature) -> float:
    """Estimated share of the larger document's shingles that the other also has."""
    if not a.shingles or not b.shingles:
        return 0.0
    jaccard = float(np.mean(a.minhash == b.minhash))
    shared = jaccard * (a.shingles + b.shingles) / (1 + jaccard)
    return min(1.0, shared / max(a.shingles, b.shingles))


def best_match(new: Signature, known: Iterable[tuple[str, Signature]]) -> tuple[str, float] | None:
    """The indexed document `new` duplicates (id, overlap), the closest if several."""
    scored = [(doc_id, overlap(new, sig)) for doc_id, sig in known]
    hits = [(d, o) for d, o in scored if o >= DUPLICATE_OVERLAP]
    return max(hits, key=lambda h: h[1]) if hits else None


class SignatureIndex:
    """Every known document's signature in one matrix, so that finding what a new document
    duplicates is one comparison against all of them (a Python loop over 9,800 documents
    took 50 ms per new one), with the same overlaps as `overlap`."""

    def __init__(self, known: Iterable[tuple[str, Signature]] = ()) -> None:
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._minhash = np.zeros((0, _PERMUTATIONS), dtype=np.uint32)
        self._shingles = np.zeros(0, dtype=np.float64)
        self._n = 0
        for doc_id, sig in known:
            self.add(doc_id, sig)

    def add(self, doc_id: str, sig: Signature) -> None:
        """Add or replace `doc_id`'s signature."""
        row = self._row.get(doc_id)
        if row is None:
            if self._n == len(self._minhash):  # grown by doubling: appends stay cheap
                size = max(16, 2 * self._n)
                self._minhash = np.resize(self._minhash, (size, _PERMUTATIONS))
                self._shingles = np.resize(self._shingles, size)
            row = self._row[doc_id] = self._n
            self._ids.append(doc_id)
            self._n += 1
        self._minhash[row] = sig.minhash
        self._shingles[row] = sig.shingles

    def best_match(self, new: Signature, *, skip: str | None = None) -> tuple[str, float] | None:
        """As `best_match` over every known document but `skip`: (id, overlap) or None."""
        if not self._n or not new.shingles:
            return None
        jaccard = np.mean(self._minhash[: self._n] == new.minhash, axis=1)
        shingles = self._shingles[: self._n]
        shared = jaccard * (new.shingles + shingles) / (1 + jaccard)
        share = np.minimum(1.0, shared / np.maximum(new.shingles, shingles))
        share[shingles == 0] = 0.0
        if skip is not None and skip in self._row:
            share[self._row[skip]] = 0.0
        best = int(np.argmax(share))  # the first of equals, as max() over a list keeps
        return (self._ids[best], float(share[best])) if share[best] >= DUPLICATE_OVERLAP else None


def _shingle_hashes(text: str) -> np.ndarray:
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[i : i + _SHINGLE]) for i in range(max(len(words) - _SHINGLE + 1, 0))}
    if not grams and words:
        grams = {" ".join(words)}
    return np.array(
        sorted(int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest()) for g in grams),
        dtype=np.uint64,
    )
