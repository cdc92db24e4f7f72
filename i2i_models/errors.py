"""Exceptions raised by the library. Every message says what went wrong and what to do about it.

All derive from :class:`I2IError`; each also derives from the builtin a caller would expect
(``ValueError``, ``FileNotFoundError``), so generic ``except`` clauses keep working.
"""

from __future__ import annotations


class I2IError(Exception):
    """Base class of this library's errors."""


class UnknownCheckpointError(I2IError, ValueError):
    """The file is a valid weights file, but no known codebase's layout matches its keys."""


class CorruptCheckpointError(I2IError, ValueError):
    """The file cannot be read: truncated download, not a checkpoint, damaged archive."""


class UnsafeCheckpointError(I2IError, ValueError):
    """The file is a pickle that would have to run code (import classes) to load; we never do that."""


class FamilyMismatchError(I2IError, ValueError):
    """A model of another family was given where a specific family was asked for."""


class ModelNotFoundError(I2IError, FileNotFoundError):
    """No such local path, Hub repository, revision or file (or it is not in the offline cache)."""


class DownloadError(I2IError, OSError):
    """A download started but did not complete correctly (size mismatch, dropped connection)."""


class ConfigError(I2IError, ValueError):
    """A ``config.json`` is malformed or does not match the weights beside it."""
