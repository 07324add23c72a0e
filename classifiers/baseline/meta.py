"""Engagement and length features the baseline's misinformation head reads beside the text."""

from __future__ import annotations

import math

import numpy as np

from schemas import Engagement

__all__ = ["META_FEATURES", "meta_features"]

# No "counter missing" flags: in ReINTEL a missing counter goes with unreliable posts (38% vs
# 17%), a quirk of that crawl that made every comment without counters look unreliable here.
META_FEATURES = ("log_likes", "log_comments", "log_shares", "has_url", "log_length")


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
