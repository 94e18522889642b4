"""Model facts: what a model reference (local folder/file or hub id) says about sizes."""

from .facts import ModelFacts, TensorInfo
from .resolver import ModelResolver

__all__ = ["ModelFacts", "ModelResolver", "TensorInfo"]
