"""One exception tree for the whole package.

Every message says what happened and what to do next. Front doors map these to their own
idiom: magics to a one-line ``UsageError``, REST handlers to a status code through
:data:`HTTP_STATUS`, the CLI to a one-line message and exit code 2.
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base of every error jupyter-mlops raises on purpose."""


class InvalidInputError(MlopsError, ValueError):
    """The caller passed something malformed (a bad filter, a non-numeric metric…)."""


class FilterSyntaxError(InvalidInputError):
    """A ``search_runs`` filter could not be parsed.

    ``position`` is the 0-based character offset where parsing failed.
    """

    def __init__(self, message: str, text: str = "", position: int = 0):
        self.text = text
        self.position = position
        pointer = ""
        if text:
            pointer = f"\n  {text}\n  {' ' * position}^"
        super().__init__(f"{message} (at position {position}){pointer}")


class NotFoundError(MlopsError, LookupError):
    """A run, experiment, artifact or dataset that does not exist."""


class AlreadyExistsError(MlopsError):
    """Creating something whose unique name is taken."""


class ConflictError(MlopsError):
    """The request clashes with the current state (e.g. logging to a finished run)."""


class PermissionDeniedError(MlopsError):
    """The caller's role does not allow the action."""


class CorruptArtifactError(MlopsError):
    """A stored blob no longer matches its content hash."""


class StoreUnavailableError(MlopsError):
    """The metadata store cannot be reached or is too old/new for this version."""


class StepExecutionError(MlopsError):
    """A pipeline step failed; carries the step name and the failing cell."""

    def __init__(self, message: str, *, step: str | None = None, cell_index: int | None = None):
        self.step = step
        self.cell_index = cell_index
        super().__init__(message)


#: The one table REST handlers use; anything not listed is a 500.
HTTP_STATUS: dict[type[MlopsError], int] = {
    InvalidInputError: 400,
    FilterSyntaxError: 400,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    ConflictError: 409,
    CorruptArtifactError: 422,
    StoreUnavailableError: 503,
    StepExecutionError: 500,
}


def http_status_for(error: BaseException) -> int:
    """Return the HTTP status for ``error`` by walking its class hierarchy."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
