"""Errors of the classifier layer (see `schemas.exceptions` for the whole tree)."""

from __future__ import annotations

from schemas.exceptions import CanhbaoError

__all__ = ["ClassifierError", "DatasetError", "ModelFormatError", "ModelNotFoundError"]


class ClassifierError(CanhbaoError):
    """Loading, training or running a model failed."""


class ModelNotFoundError(ClassifierError):
    """No trained model at the given location; `canhbao train baseline` builds one."""


class DatasetError(ClassifierError):
    """A dataset file is missing or not in its original column format."""


class ModelFormatError(ClassifierError):
    """A model file that is not what it claims to be, or is cut short."""
