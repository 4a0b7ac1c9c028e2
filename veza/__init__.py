"""Veza: the backend of a platform for music creators."""

__version__ = "0.1.0"
