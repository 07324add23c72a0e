"""The fast CPU baseline: hashed TF-IDF features and one linear head per task."""

from classifiers.baseline.features import FeatureConfig, Featurizer
from classifiers.baseline.model import MODEL_NAME, BaselineModel, LinearHead
from classifiers.baseline.train import TrainingOptions, train_baseline

__all__ = [
    "MODEL_NAME",
    "BaselineModel",
    "FeatureConfig",
    "Featurizer",
    "LinearHead",
    "TrainingOptions",
    "train_baseline",
]
