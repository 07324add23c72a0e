"""The fast CPU baseline: hashed TF-IDF features and one linear head per task."""

from classifiers.baseline.features import FeatureConfig, Featurizer
from classifiers.baseline.heads import HEADS, HeadSpec, head_for_dataset
from classifiers.baseline.model import MODEL_NAME, BaselineModel, LinearHead
from classifiers.baseline.train import DEFAULT_PLAN, DataSplit, TrainingOptions, train_baseline

__all__ = [
    "DEFAULT_PLAN",
    "HEADS",
    "MODEL_NAME",
    "BaselineModel",
    "DataSplit",
    "FeatureConfig",
    "Featurizer",
    "HeadSpec",
    "LinearHead",
    "TrainingOptions",
    "head_for_dataset",
    "train_baseline",
]
