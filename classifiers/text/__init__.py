"""Vietnamese text processing shared by every classifier and by the pipeline."""

from classifiers.text.language import LanguageGuess, detect_language
from classifiers.text.normalize import fold, normalize_text, text_for_model, tokens
from classifiers.text.teencode import TEENCODE
from classifiers.text.tone import normalize_tone_placement, place_tone

__all__ = [
    "TEENCODE",
    "LanguageGuess",
    "detect_language",
    "fold",
    "normalize_text",
    "normalize_tone_placement",
    "place_tone",
    "text_for_model",
    "tokens",
]
