"""One sentence embedding per post: what is embedded, how it is kept, who makes it.

The pipeline's embed stage encodes each new post once (`post_passage`: title and text, cut to
a stated budget); the vector travels with the post to every consumer (classifiers now; claim
matching and story assignment next) and to the store. Training encodes its texts the same way,
so a model sees at prediction time what it saw when it learned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["MAX_PASSAGE_CHARS", "Embedder", "PostEmbedding", "post_passage"]

# Far beyond any token budget (a token is ~3–5 characters); cut first so that a 1 MB post is
# not tokenised whole only to be truncated.
MAX_PASSAGE_CHARS = 4_000


def post_passage(title: str | None, text: str) -> str:
    """The text embedded for a post: its headline, if any, then its body."""
    passage = f"{title}\n{text}" if title else text
    return passage[:MAX_PASSAGE_CHARS]


@dataclass(frozen=True, slots=True, eq=False)
class PostEmbedding:
    """A post's vector and the encoder that made it: vectors of different encoders must never
    be compared, so every stored vector says whose it is."""

    model: str
    vector: np.ndarray  # float32, L2-normalised
    # The encoder's inner token states ([tokens, hidden]) where a consumer asked for them (the
    # hybrid's fine-tuned top layers): in memory only, never stored (~200 KB a post).
    states: np.ndarray | None = None

    def to_bytes(self) -> bytes:
        """float16, little-endian: 768 bytes for 384 dimensions; cosines move by < 1e-3."""
        return self.vector.astype("<f2").tobytes()

    @classmethod
    def from_bytes(cls, model: str, data: bytes) -> PostEmbedding:
        return cls(model, np.frombuffer(data, dtype="<f2").astype(np.float32))


class Embedder(Protocol):
    """A sentence encoder: `name` identifies its vectors (model and weights)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), dim] float32, L2-normalised rows, in order."""
        ...

    def embed_posts(self, passages: Sequence[str]) -> list[PostEmbedding]:
        """One `PostEmbedding` per passage (`post_passage`), in order: the embed stage's call."""
