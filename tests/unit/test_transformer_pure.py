"""The PhoBERT path's pure parts: windows, pooling, length-bucketed batches, temperature."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers.calibration import fit_temperature, softmax
from classifiers.metrics import expected_calibration_error
from classifiers.transformer.batching import pad, token_budget_batches
from classifiers.transformer.windows import pool, split_windows


@given(
    n=st.integers(0, 3000),
    body=st.integers(1, 300),
    overlap_share=st.floats(0, 0.9),
    max_windows=st.integers(1, 12),
)
def test_windows_cover_the_text_in_order_within_their_limits(
    n: int, body: int, overlap_share: float, max_windows: int
) -> None:
    overlap = min(int(body * overlap_share), body - 1)
    ids = list(range(n))
    windows = split_windows(ids, body, overlap, max_windows)
    assert 1 <= len(windows) <= max_windows
    assert all(len(w) <= body for w in windows)
    assert windows[0] == ids[: len(windows[0])]
    for first, second in itertools.pairwise(windows):
        assert first[-overlap:] == second[:overlap] if overlap else first[-1] + 1 == second[0]
    covered = sorted({t for w in windows for t in w})
    if len(windows) < max_windows:  # nothing was cut off: every token is read
        assert covered == ids
    else:
        assert covered == ids[: len(covered)]


def test_a_short_text_is_one_window_and_bad_shapes_are_refused() -> None:
    assert split_windows([5, 6, 7], 254, 64, 8) == [[5, 6, 7]]
    assert split_windows([], 254, 64, 8) == [[]]
    with pytest.raises(ValueError, match="bad window shape"):
        split_windows([1, 2], 10, 10, 2)


def test_mean_pooling_averages_each_posts_windows() -> None:
    logits = np.array([[1.0, 3.0], [3.0, 1.0], [0.0, 2.0]])
    owners = np.array([0, 0, 1])
    assert pool(logits, owners, 2, "mean").tolist() == [[2.0, 2.0], [0.0, 2.0]]


def test_max_pooling_takes_the_window_that_leans_furthest_from_benign() -> None:
    # Post 0: its second window is the offensive one; post 1 has one window.
    logits = np.array([[4.0, 0.0, 0.0], [0.0, 3.0, -1.0], [2.0, 2.5, 0.0], [1.0, 0.0, 0.0]])
    owners = np.array([0, 0, 0, 1])
    pooled = pool(logits, owners, 2, "max")
    assert pooled.tolist() == [[0.0, 3.0, -1.0], [1.0, 0.0, 0.0]]


@given(
    lengths=st.lists(st.integers(1, 300), max_size=200),
    max_batch=st.integers(1, 64),
    max_tokens=st.integers(1, 4096),
)
def test_token_budget_batches_partition_the_rows_within_the_budget(
    lengths: list[int], max_batch: int, max_tokens: int
) -> None:
    batches = token_budget_batches(lengths, max_batch, max_tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= max_batch
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= max_tokens
    # Sorted by length, so padding stays small: batches do not interleave lengths.
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)


def test_bucketing_pads_less_than_arrival_order() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.choice([12, 30, 250], size=300, p=[0.6, 0.3, 0.1])]

    def padded(batches: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    arrival = [list(range(s, min(s + 16, 300))) for s in range(0, 300, 16)]
    assert padded(token_budget_batches(lengths, 16, 4096)) < 0.5 * padded(arrival)


def test_pad_right_pads_with_a_mask() -> None:
    ids, mask = pad([[0, 7, 2], [0, 2]], pad_id=1)
    assert ids.tolist() == [[0, 7, 2], [0, 2, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == np.int64


def test_temperature_scaling_recovers_the_true_temperature_and_lowers_ece() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(20_000, 3))
    truth = softmax(logits, 2.5)  # the labels behave as if the model were 2.5× too sharp
    y = np.array([rng.choice(3, p=p) for p in truth])
    temperature = fit_temperature(logits, y)
    assert temperature == pytest.approx(2.5, rel=0.08)
    before = expected_calibration_error(y, softmax(logits))
    after = expected_calibration_error(y, softmax(logits, temperature))
    assert after < before / 3


def test_softmax_rows_are_distributions_even_for_huge_logits() -> None:
    proba = softmax(np.array([[1000.0, 0.0], [-5.0, -5.0]]))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0].tolist() == [1.0, 0.0]
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=np.int64)) == 1.0
