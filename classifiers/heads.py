"""The tasks every model answers: which labels each head predicts, from what input, on what data.

Shared by the baseline and PhoBERT models, training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas import Label, PostKind

__all__ = ["HEADS", "HeadSpec"]


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
    # Whether a text without letters (".", "t", a run of emoji) is scored rather than declined:
    # for review spam it is the signal itself (all 66 such ViSpamReviews training rows and all
    # 7 dev rows are spam); for the other heads it carries nothing to judge.
    scores_letterless: bool = False


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
        scores_letterless=True,
    ),
)
