"""Exact and near-duplicate detection.

Exact: SHA-1 of the folded text (case, diacritics and spacing do not matter).

Near: MinHash over word bigrams of the folded text, links and @mentions removed (re-posts mostly
differ by an appended link, hashtag or "chia sẻ ngay"). We measured 64-bit SimHash first: on
~35-word posts a one-word edit moved it 4–9 bits, too far for a banded lookup to stay cheap, while
MinHash estimates word-bigram Jaccard directly. Signatures of 32 values are split into 8 bands
of 4; a pair with Jaccard 0.8 shares a band with probability ≈ 0.98, one with 0.3 ≈ 0.06, and
candidates are confirmed by the estimated Jaccard (≥ `min_jaccard`).
Short texts (< `min_tokens` words) are only matched exactly: their bigram sets are too small.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from schemas import DuplicateKind

__all__ = [
    "SIGNATURE_BYTES",
    "DedupEntry",
    "DedupIndex",
    "DupVerdict",
    "band_keys",
    "content_hash",
    "dedup_words",
    "jaccard_estimate",
    "minhash_signature",
]

_PERMUTATIONS = 32
_BANDS = 8
_ROWS = _PERMUTATIONS // _BANDS
SIGNATURE_BYTES = _PERMUTATIONS * 4
_RNG = np.random.default_rng(0x5EED)  # fixed: signatures must match across processes and runs
_XOR = _RNG.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)
_MUL = _RNG.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_NOISE_RE = re.compile(r"(?:https?://|www\.)\S+|@[\w.]+|#\w+")


def content_hash(folded: str) -> str:
    return hashlib.sha1(folded.encode("utf-8"), usedforsecurity=False).hexdigest()


def dedup_words(folded: str) -> list[str]:
    return _NOISE_RE.sub(" ", folded).split()


def minhash_signature(words: list[str]) -> bytes:
    """32 × uint32 MinHash of the word bigrams (multiply-shift hash family)."""
    grams = [f"{a} {b}" for a, b in itertools.pairwise(words)] or words or [""]
    hashes = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
            for g in grams
        ),
        dtype=np.uint64,
        count=len(grams),
    )
    mixed = ((hashes[:, None] ^ _XOR) * _MUL) >> np.uint64(32)  # wraps mod 2**64 by design
    signature: bytes = mixed.min(axis=0).astype("<u4").tobytes()
    return signature


def jaccard_estimate(a: bytes, b: bytes) -> float:
    sa = np.frombuffer(a, dtype="<u4")
    sb = np.frombuffer(b, dtype="<u4")
    return float((sa == sb).mean())


def band_keys(signature: bytes) -> list[bytes]:
    """The signature's 8 LSH bands, each prefixed with its number: two posts sharing one are
    candidates. Stores index them too, so another worker's posts can be looked up by them."""
    step = _ROWS * 4
    return [bytes([band]) + signature[band * step : (band + 1) * step] for band in range(_BANDS)]


@dataclass(frozen=True, slots=True)
class DedupEntry:
    post_id: str
    content_hash: str
    signature: bytes | None  # None: too short for near-duplicate matching
    cluster_id: str


@dataclass(frozen=True, slots=True)
class DupVerdict:
    kind: DuplicateKind | None  # None: a new post
    duplicate_of: str | None
    cluster_id: str


class DedupIndex:
    """A bounded in-memory index of recent posts (oldest evicted first).

    Plain state, no I/O: the embedded runner warms it from the store at start and a stream
    worker from its table, so both modes run the same `check`/`add` logic."""

    def __init__(
        self, capacity: int = 200_000, min_jaccard: float = 0.6, min_tokens: int = 8
    ) -> None:
        self.capacity = capacity
        self.min_jaccard = min_jaccard
        self.min_tokens = min_tokens
        self._entries: OrderedDict[str, DedupEntry] = OrderedDict()
        self._by_hash: dict[str, str] = {}
        # One post per bucket (the latest): bounded memory, and a cluster stays findable
        # through its newest member.
        self._buckets: dict[bytes, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def signature_for(self, folded: str) -> bytes | None:
        words = dedup_words(folded)
        return minhash_signature(words) if len(words) >= self.min_tokens else None

    def check(self, post_id: str, digest: str, signature: bytes | None) -> DupVerdict:
        if post_id in self._entries:
            return DupVerdict(DuplicateKind.SAME_POST, post_id, self._entries[post_id].cluster_id)
        first = self._by_hash.get(digest)
        if first is not None:
            return DupVerdict(DuplicateKind.EXACT, first, self._entries[first].cluster_id)
        if signature is not None:
            best: tuple[float, str] | None = None
            for key in band_keys(signature):
                candidate = self._buckets.get(key)
                if candidate is None or (best is not None and candidate == best[1]):
                    continue
                other = self._entries[candidate].signature
                assert other is not None
                similarity = jaccard_estimate(signature, other)
                if similarity >= self.min_jaccard and (best is None or similarity > best[0]):
                    best = (similarity, candidate)
            if best is not None:
                entry = self._entries[best[1]]
                return DupVerdict(DuplicateKind.NEAR, entry.post_id, entry.cluster_id)
        return DupVerdict(None, None, post_id)

    def add(self, entry: DedupEntry) -> None:
        if entry.post_id in self._entries:
            return
        self._entries[entry.post_id] = entry
        self._by_hash.setdefault(entry.content_hash, entry.post_id)
        if entry.signature is not None:
            for key in band_keys(entry.signature):
                self._buckets[key] = entry.post_id
        while len(self._entries) > self.capacity:
            self.discard(next(iter(self._entries)))

    def discard(self, post_id: str) -> None:
        entry = self._entries.pop(post_id, None)
        if entry is None:
            return
        if self._by_hash.get(entry.content_hash) == post_id:
            del self._by_hash[entry.content_hash]
        if entry.signature is not None:
            for key in band_keys(entry.signature):
                if self._buckets.get(key) == post_id:
                    del self._buckets[key]
