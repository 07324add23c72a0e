"""Posts as collectors emit them (`RawPost`) and as the pipeline sees them (`NormalizedPost`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from schemas._base import Contract, UtcDatetime
from schemas.classification import Classification
from schemas.identity import AUTHOR_REF_PATTERN, post_id_for

__all__ = [
    "ClassifiedPost",
    "DuplicateKind",
    "Engagement",
    "NormalizedPost",
    "Platform",
    "PostKind",
    "RawPost",
]


class Platform(StrEnum):
    NEWS = "news"
    FACEBOOK = "facebook"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    ZALO = "zalo"
    FORUM = "forum"
    PARTNER = "partner"
    OTHER = "other"


class PostKind(StrEnum):
    ARTICLE = "article"
    POST = "post"
    COMMENT = "comment"
    VIDEO = "video"
    REVIEW = "review"  # product/service reviews from partner feeds


class Engagement(Contract):
    """Public counters at collection time; `None` means the platform did not say."""

    likes: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    views: int | None = Field(default=None, ge=0)


class RawPost(Contract):
    """A public post as a collector delivers it to the bus (topic `posts.raw`)."""

    schema_version: Literal[1] = 1
    platform: Platform
    source_id: str = Field(min_length=1, max_length=200, description="collector source name")
    external_id: str = Field(min_length=1, max_length=500, description="the platform's own id")
    url: str = Field(
        min_length=8,
        max_length=2048,
        pattern=r"^https?://\S+$",
        description="canonical URL of the public post, kept as evidence",
    )
    kind: PostKind = PostKind.POST
    parent_external_id: str | None = Field(default=None, max_length=500)
    author_ref: str | None = Field(default=None, pattern=AUTHOR_REF_PATTERN)
    title: str | None = Field(default=None, max_length=2000)
    text: str = Field(min_length=1)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    published_at: UtcDatetime | None = None
    collected_at: UtcDatetime
    engagement: Engagement = Engagement()
    raw_ref: str | None = Field(default=None, max_length=1000, description="where the payload is")

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty or only whitespace")
        return value

    @property
    def post_id(self) -> str:
        return post_id_for(self.platform.value, self.external_id)


class DuplicateKind(StrEnum):
    SAME_POST = "same_post"  # the same platform item collected again
    EXACT = "exact"  # same normalised text
    NEAR = "near"  # estimated word-bigram Jaccard above the configured minimum


class NormalizedPost(Contract):
    """A post after text normalisation, language check and duplicate detection."""

    schema_version: Literal[1] = 1
    post_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    raw: RawPost
    text: str = Field(description="NFC, one tone-mark convention, tidy whitespace")
    title: str | None = None
    folded: str = Field(description="lower-case, diacritics removed: for search and dedup")
    language: str = Field(description="detected: ISO 639-1 code, or 'und'")
    language_confidence: float = Field(ge=0.0, le=1.0)
    content_hash: str = Field(pattern=r"^[0-9a-f]{40}$")
    cluster_id: str = Field(description="story cluster: the post id of the cluster's first post")
    duplicate_of: str | None = None
    duplicate_kind: DuplicateKind | None = None
    normalized_at: UtcDatetime


class ClassifiedPost(Contract):
    """A post with its classification, as published on the classified-posts topic for
    downstream consumers (indexing, statistics); alerts travel separately."""

    schema_version: Literal[1] = 1
    post: NormalizedPost
    classification: Classification
