"""Vietnamese text processing shared by every classifier and by the pipeline."""

from classifiers.text.language import LanguageGuess, detect_language
from classifiers.text.normalize import fold, normalize_text, text_for_model, tokens
from classifiers.text.segment import Segmenter, make_segmenter, segment_runs, unsegment
from classifiers.text.teencode import TEENCODE
from classifiers.text.tone import normalize_tone_placement, place_tone

__all__ = [
    "TEENCODE",
    "LanguageGuess",
    "Segmenter",
    "detect_language",
    "fold",
    "make_segmenter",
    "normalize_text",
    "normalize_tone_placement",
    "place_tone",
    "segment_runs",
    "text_for_model",
    "tokens",
    "unsegment",
]
