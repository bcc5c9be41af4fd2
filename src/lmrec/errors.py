"""Errors a user can cause. Each says what was wrong and how to fix it.

The CLI prints them as one line without a traceback; the HTTP service turns them into
4xx problem responses. Anything else escaping the library is a bug in lmrec.
"""

from __future__ import annotations


class LmrecError(Exception):
    """Base class of every error caused by user input or environment."""

    #: HTTP status the service answers with for this error.
    status_code: int = 400


class ConfigError(LmrecError):
    """A configuration key is unknown, ill-typed or out of range."""


class DataError(LmrecError):
    """Input data is malformed. Names the file, line and field where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path = path
        self.line = line
        self.field = field


class FetchError(LmrecError):
    """A dataset could not be downloaded from any source."""


class NotFittedError(LmrecError):
    """A model was used before `fit` (or `load`)."""


class UnknownIdError(LmrecError):
    """A user or item id is not known to the model or dataset."""

    status_code = 404


class UnsupportedError(LmrecError):
    """The model cannot do what was asked (e.g. fold-in of a new history)."""

    status_code = 422


class ArtifactError(LmrecError):
    """A saved model directory is missing, incomplete or from an incompatible version."""


class ConflictError(LmrecError):
    """The request conflicts with the current state: a model version that does not load,
    a rollback with no earlier version to go back to."""

    status_code = 409
