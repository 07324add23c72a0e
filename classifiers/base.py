"""The one interface every model implements, whatever runs inside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from classifiers.embedding import PostEmbedding
from schemas import Classification, Engagement, PostKind

__all__ = ["Classifier", "ClassifierInput"]


@dataclass(frozen=True, slots=True)
class ClassifierInput:
    """What a model may read about a post: its content and public engagement, never its author."""

    post_id: str
    text: str  # normalised (NFC, one tone convention)
    title: str | None = None
    engagement: Engagement = field(default_factory=Engagement)
    language: str | None = None  # from the pipeline's language check; detected when None
    kind: PostKind = PostKind.POST
    # From the pipeline's embed stage (one pass per post); a model that reads embeddings makes
    # its own where this is None or another encoder's.
    embedding: PostEmbedding | None = None


@runtime_checkable
class Classifier(Protocol):
    """`predict` returns one `Classification` per input, in order, and never raises on content:
    empty, emoji-only, huge or odd-script text gets a defined outcome instead."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def predict(self, batch: Sequence[ClassifierInput]) -> list[Classification]: ...
