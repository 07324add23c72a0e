"""The heads of the baseline model: which labels each predicts, from what input, on what data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from schemas import Engagement, Label, PostKind

__all__ = ["HEADS", "META_FEATURES", "HeadSpec", "head_for_dataset", "meta_features"]


@dataclass(frozen=True, slots=True)
class HeadSpec:
    name: str
    classes: tuple[str, ...]
    labels: dict[Label, int]  # label → index of the class whose probability is its score
    source: Literal["text", "title"]  # clickbait is a property of headlines
    uses_meta: bool  # engagement counters as extra features
    # The kinds of post the training data is made of; a head is not run outside its domain
    # (None: any kind). A model trained on product reviews says nothing useful about a news post.
    kinds: frozenset[PostKind] | None = None


HEADS: tuple[HeadSpec, ...] = (
    HeadSpec(
        "hostile",
        ("clean", "offensive", "hate"),
        {Label.OFFENSIVE: 1, Label.HATE: 2},
        "text",
        False,
    ),
    HeadSpec("toxic", ("non_toxic", "toxic"), {Label.TOXIC: 1}, "text", False),
    HeadSpec(
        "misinformation",
        ("reliable", "unreliable"),
        {Label.MISINFORMATION: 1},
        "text",
        True,
        kinds=frozenset({PostKind.POST, PostKind.ARTICLE, PostKind.VIDEO}),  # ReINTEL: page posts
    ),
    HeadSpec(
        "clickbait",
        ("non-clickbait", "clickbait"),
        {Label.CLICKBAIT: 1},
        "title",
        False,
        kinds=frozenset({PostKind.ARTICLE, PostKind.VIDEO, PostKind.POST}),  # headlines
    ),
    HeadSpec(
        "spam",
        ("not_spam", "spam"),
        {Label.SPAM: 1},
        "text",
        False,
        kinds=frozenset({PostKind.REVIEW}),  # ViSpamReviews: e-commerce reviews
    ),
)

_DATASET_HEAD = {
    "vihsd": "hostile",
    "vlsp2019": "hostile",
    "vihos": "hostile",
    "victsd": "toxic",
    "reintel": "misinformation",
    "viclickbait": "clickbait",
    "vispamreviews": "spam",
}

# No "counter missing" flags: in ReINTEL a missing counter goes with unreliable posts (38% vs
# 17%), a quirk of that crawl that made every comment without counters look unreliable here.
META_FEATURES = ("log_likes", "log_comments", "log_shares", "has_url", "log_length")


def head_for_dataset(dataset: str) -> HeadSpec:
    name = _DATASET_HEAD[dataset]
    return next(h for h in HEADS if h.name == name)


def _log_count(value: int | None) -> float:
    # Divided by ~log(1e5) so typical counters land in [0, 1] next to unit-norm text features.
    return 0.0 if value is None else math.log1p(value) / 11.5


def meta_features(engagement: Engagement, text: str) -> np.ndarray:
    return np.array(
        [
            _log_count(engagement.likes),
            _log_count(engagement.comments),
            _log_count(engagement.shares),
            float("<url>" in text or "http" in text),
            math.log1p(len(text)) / 10.0,
        ],
        dtype=np.float32,
    )
