"""Content classifiers behind one `Classifier` interface, and their Vietnamese text processing."""

from classifiers.base import Classifier, ClassifierInput
from classifiers.exceptions import ClassifierError, DatasetError, ModelNotFoundError

__all__ = ["Classifier", "ClassifierError", "ClassifierInput", "DatasetError", "ModelNotFoundError"]
