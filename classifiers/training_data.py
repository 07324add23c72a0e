"""Where each head's training and dev data come from, and how it is loaded.

Every head is trained on its dataset's train split and tuned on its dev split, or, where the
dataset ships none, on a fixed stratified fifth of train. Nothing here reads a test split.
Shared by every model's training so that all of them learn from, and are tuned on, the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from classifiers.datasets import LabelledSet, file_sha256, read_dataset
from classifiers.heads import HeadSpec
from classifiers.text import normalize_text, text_for_model

__all__ = ["DEFAULT_PLAN", "DataSplit", "head_model_texts", "load_head_data", "stratified_rows"]


@dataclass(frozen=True, slots=True)
class DataSplit:
    """Where one head's data comes from, relative to the datasets folder."""

    train: tuple[tuple[str, str], ...]  # (dataset reader, relative path)
    dev: tuple[str, str] | None  # None: hold out a stratified fifth of train


DEFAULT_PLAN: dict[str, DataSplit] = {
    "hostile": DataSplit(
        train=(("vihsd", "vihsd/train.csv"), ("vlsp2019", "vlsp2019_hsd/train.csv")),
        dev=("vihsd", "vihsd/dev.csv"),
    ),
    "toxic": DataSplit(
        train=(("victsd", "victsd/ViCTSD_train.csv"),), dev=("victsd", "victsd/ViCTSD_valid.csv")
    ),
    "misinformation": DataSplit(train=(("reintel", "reintel/train.csv"),), dev=None),
    "clickbait": DataSplit(train=(("viclickbait", "viclickbait/train.csv"),), dev=None),
    "spam": DataSplit(
        train=(("vispamreviews", "vispamreviews/train.csv"),),
        dev=("vispamreviews", "vispamreviews/dev.csv"),
    ),
}


def _subset(data: LabelledSet, rows: np.ndarray) -> LabelledSet:
    out = LabelledSet(data.name, data.classes)
    for i in rows:
        out.add(data.texts[i], data.y[i], data.titles[i], data.engagement[i])
    return out


def load_head_data(
    spec: HeadSpec, split: DataSplit, root: Path, seed: int, hashes: dict[str, Any]
) -> tuple[LabelledSet, LabelledSet]:
    parts = []
    for reader, rel in split.train:
        path = root / rel
        parts.append(read_dataset(reader, path))
        hashes[rel] = {"sha256": file_sha256(path), "rows": len(parts[-1])}
    train = parts[0]
    for extra in parts[1:]:
        for i in range(len(extra)):
            train.add(extra.texts[i], extra.y[i], extra.titles[i], extra.engagement[i])
    if split.dev is not None:
        path = root / split.dev[1]
        dev = read_dataset(split.dev[0], path)
        hashes[split.dev[1]] = {"sha256": file_sha256(path), "rows": len(dev)}
        return train, dev
    rows = np.arange(len(train))
    fit_rows, dev_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=np.asarray(train.y)
    )
    return _subset(train, np.sort(fit_rows)), _subset(train, np.sort(dev_rows))


def stratified_rows(y: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Row indices of a training split: all of them, or `limit` drawn stratified by class
    (sorted), the same rows for the same seed."""
    rows = np.arange(len(y))
    if limit is None or len(rows) <= limit:
        return rows
    kept, _ = train_test_split(rows, train_size=limit, random_state=seed, stratify=y)
    return np.sort(kept)


def head_model_texts(data: LabelledSet, spec: HeadSpec) -> list[str]:
    """The head's input (headlines or texts) as models read it at prediction time."""
    raw = data.titles if spec.source == "title" else data.texts
    return [text_for_model(normalize_text(t or "")) for t in raw]
