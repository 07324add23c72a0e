"""The hybrid model: the baseline's n-gram heads and a linear head on the post's sentence
embedding, mixed per head by a small logistic regression chosen on dev — used only for the
heads where it wins there."""

from classifiers.hybrid.model import HYBRID_CARD, MODEL_NAME, HybridHead, HybridModel
from classifiers.hybrid.train import HybridOptions, train_hybrid

__all__ = [
    "HYBRID_CARD",
    "MODEL_NAME",
    "HybridHead",
    "HybridModel",
    "HybridOptions",
    "train_hybrid",
]
