"""Vietnamese word segmentation behind one interface: pyvi by default (MIT, its CRF model ships
in the wheel), VnCoreNLP and underthesea as optional adapters (GPL-3: never a default).

Vietnamese writes one syllable per space; a word is often two or three ("đại học", "Hà Nội").
Segmenters join a word's syllables with "_" ("đại_học"), which is what PhoBERT was trained on.
Only runs of letters are given to the segmenter: URLs, @mentions, #hashtags, numbers, emoji and
punctuation pass through untouched (segmenters split them apart, and they carry signal), and a
segmenter's answer is used only if it kept every syllable — so `unsegment(segment(t)) == t`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from classifiers.exceptions import ClassifierError

__all__ = [
    "PyviSegmenter",
    "Segmenter",
    "UndertheseaSegmenter",
    "VnCoreNLPSegmenter",
    "WhitespaceSegmenter",
    "make_segmenter",
    "segment_runs",
    "unsegment",
]

# A run: letter-only syllables separated by single spaces (no digits, no "_", no punctuation).
_RUN_RE = re.compile(r"[^\W\d_]+(?: [^\W\d_]+)*")


def unsegment(text: str) -> str:
    return text.replace("_", " ")


def segment_runs(text: str, tokenize: Callable[[str], str]) -> str:
    """Apply `tokenize` (syllables → words joined by "_") to each run of letters in `text`;
    a run it changed in any other way than joining syllables is kept as it was."""
    if "_" in text:  # "_" is the word joiner: text that has one already is left alone
        return text

    def one(match: re.Match[str]) -> str:
        run = match.group(0)
        if " " not in run:
            return run
        try:
            segmented = " ".join(tokenize(run).split())
        except Exception:  # a segmenter's bug must not lose the text
            return run
        return segmented if unsegment(segmented) == run else run

    return _RUN_RE.sub(one, text)


@runtime_checkable
class Segmenter(Protocol):
    @property
    def name(self) -> str: ...

    def segment(self, text: str) -> str:
        """`text` with each multi-syllable word joined by "_"; nothing else changed."""


class WhitespaceSegmenter:
    """No segmentation: syllables stay apart (for models trained without it)."""

    name = "whitespace"

    def segment(self, text: str) -> str:
        return text


class PyviSegmenter:
    name = "pyvi"

    def __init__(self) -> None:
        try:
            from pyvi import ViTokenizer
        except ImportError as exc:
            raise ClassifierError(
                "the pyvi segmenter needs pyvi: pip install 'canhbao[phobert]'"
            ) from exc
        self._tokenize: Callable[[str], str] = ViTokenizer.tokenize

    def segment(self, text: str) -> str:
        return segment_runs(text, self._tokenize)


class UndertheseaSegmenter:
    """Optional adapter (underthesea is GPL-3: install it yourself if its licence suits you)."""

    name = "underthesea"

    def __init__(self) -> None:
        try:
            from underthesea import word_tokenize
        except ImportError as exc:
            raise ClassifierError(
                "the underthesea segmenter needs `pip install underthesea`"
            ) from exc
        self._tokenize: Callable[[str], str] = lambda run: word_tokenize(run, format="text")

    def segment(self, text: str) -> str:
        return segment_runs(text, self._tokenize)


class VnCoreNLPSegmenter:
    """Optional adapter for VnCoreNLP (GPL-3; Java), through `py_vncorenlp` and a local model
    directory: `CANHBAO_VNCORENLP_DIR`."""

    name = "vncorenlp"

    def __init__(self, model_dir: str) -> None:
        try:
            import py_vncorenlp
        except ImportError as exc:
            raise ClassifierError(
                "the VnCoreNLP segmenter needs `pip install py_vncorenlp`"
            ) from exc
        model = py_vncorenlp.VnCoreNLP(annotators=["wseg"], save_dir=model_dir)
        self._tokenize: Callable[[str], str] = lambda run: " ".join(model.word_segment(run))

    def segment(self, text: str) -> str:
        return segment_runs(text, self._tokenize)


def make_segmenter(name: str, model_dir: str | None = None) -> Segmenter:
    if name == "pyvi":
        return PyviSegmenter()
    if name == "whitespace":
        return WhitespaceSegmenter()
    if name == "underthesea":
        return UndertheseaSegmenter()
    if name == "vncorenlp":
        if not model_dir:
            raise ClassifierError("the VnCoreNLP segmenter needs its model directory")
        return VnCoreNLPSegmenter(model_dir)
    raise ClassifierError(f"unknown segmenter {name!r}: pyvi, whitespace, underthesea, vncorenlp")
