"""Errors the converter raises on purpose (anything else is a bug)."""

from __future__ import annotations


class ConverterError(Exception):
    """Base class: the converter refused the request and says why."""


class UnsupportedModelError(ConverterError):
    """The Keras model cannot be walked or pruned (e.g. subclassed, no 3x3 convs)."""


class OutputPathError(ConverterError):
    """The output path is unusable, e.g. it would overwrite the input model."""
