"""One exception tree for the whole package, and the one table front doors map it with.

Every message says what happened and what to do next. Front doors map these to their own
idiom: magics to a one-line ``UsageError``; REST handlers to an HTTP status and the CLI to an
exit code, both read from :data:`ERROR_TABLE` (through :func:`http_status_for` and
:func:`exit_code_for`), so a REST client and a shell script see the same classification.
"""

from __future__ import annotations

from typing import NamedTuple


class MlopsError(Exception):
    """Base of every error jupyter-mlops raises on purpose."""


class InvalidInputError(MlopsError, ValueError):
    """The caller passed something malformed (a bad filter, a non-numeric metric…)."""


class SignatureTypeError(InvalidInputError):
    """Input values of the wrong type for a model's signature (a string in a float column).

    Its own class because MLflow's scoring protocol answers it ``BAD_REQUEST``, while a
    missing column is ``INVALID_PARAMETER_VALUE``; the model server keeps that distinction.
    """


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


class PathEscapeError(InvalidInputError):
    """A path taken from data or found by a walk would leave its root folder."""


class ArchiveLimitError(InvalidInputError):
    """An archive would inflate past the size or compression-ratio limit set for it."""


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


class MissingExtraError(MlopsError, ImportError):
    """An optional feature was used without the extra that installs it (``extra`` names it).

    Raised by :func:`jupyter_mlops.extras.require`; also an ``ImportError``, so code that
    falls back when a module is absent keeps working.
    """

    def __init__(self, message: str, *, extra: str):
        self.extra = extra
        super().__init__(message)


class TransferError(MlopsError):
    """A store copy finished but does not match its source (a row count or a blob hash)."""


class GateFailedError(MlopsError):
    """A quality gate (``jupyter mlops check --gate``) was not met: the work ran, its result
    is below the bar."""


class UnknownFilterKeyWarning(UserWarning):
    """A ``search_runs`` filter names a key no run has; the message names the closest ones.

    A warning, not an error: the filter is valid and its (empty) answer is correct.
    """


class Mapped(NamedTuple):
    """How a front door reports one kind of error."""

    http_status: int
    exit_code: int


#: Exit codes of ``jupyter mlops``: 1 is "the work ran and failed" (as a failed pipeline
#: run's exit status already is), 2 is "the command could not do what was asked" (a refusal,
#: like argparse's own usage errors); the message on stderr says which refusal it was.
EXIT_FAILED = 1
EXIT_ERROR = 2
#: ``jupyter mlops check``: everything ran, and at least one quality gate failed.
EXIT_GATE_FAILED = 3

#: THE table: every exception class of the tree, its HTTP status and its CLI exit code. A
#: class not listed takes the entry of its nearest listed base class; the bare MlopsError has
#: no entry on purpose, so a new direct subclass must be placed here (a test walks every
#: subclass in the package and fails otherwise).
ERROR_TABLE: dict[type[MlopsError], Mapped] = {
    InvalidInputError: Mapped(400, EXIT_ERROR),
    FilterSyntaxError: Mapped(400, EXIT_ERROR),
    PermissionDeniedError: Mapped(403, EXIT_ERROR),
    NotFoundError: Mapped(404, EXIT_ERROR),
    AlreadyExistsError: Mapped(409, EXIT_ERROR),
    ConflictError: Mapped(409, EXIT_ERROR),
    # A failed step is the user's notebook raising: the request was understood and valid,
    # and the server did its job, but the content it was asked to run could not be
    # processed. That is 422 (Unprocessable Content), not 500 (which would page an operator
    # for a user's bug) nor 409 (nothing about the resource's state conflicts; the same run
    # fails again whatever the state). The CLI says "the work ran and failed": 1.
    StepExecutionError: Mapped(422, EXIT_FAILED),
    # Stored data no longer matches its hash: nothing the client sent is wrong, and retrying
    # will not help; the server's own data failed an integrity check. That is a server-side
    # fault, 500, logged with its traceback for the operator (the message names the blob and
    # `jupyter mlops gc`). 422 would tell the client to fix a request that was fine.
    CorruptArtifactError: Mapped(500, EXIT_ERROR),
    # The copy's result differs from its source: the same integrity failure, found at the end.
    TransferError: Mapped(500, EXIT_ERROR),
    # The database cannot be reached, or its schema is of another version: try again later
    # or upgrade; 503 tells a client that the fault is neither its request nor permanent.
    StoreUnavailableError: Mapped(503, EXIT_ERROR),
    # This installation lacks the optional part the request needs (pip install
    # "jupyter-mlops[EXTRA]"): not the client's fault, and no retry helps until someone
    # installs it. 501: the server does not support the functionality.
    MissingExtraError: Mapped(501, EXIT_ERROR),
    # A quality gate failed: the request was valid and the work ran, but its result is not
    # good enough. 422 as for a failed step; its own exit code 3, so CI tells "the model is
    # below the bar" (3) from "the pipeline broke" (1) and "the command was wrong" (2).
    GateFailedError: Mapped(422, EXIT_GATE_FAILED),
}

#: What an exception outside the table (a bug) gets: an internal error.
UNMAPPED = Mapped(500, EXIT_ERROR)


def mapping_for(error: BaseException | type[BaseException]) -> Mapped:
    """The :data:`ERROR_TABLE` entry of ``error`` (an exception or its class).

    The nearest listed class in its MRO wins; :data:`UNMAPPED` when none is listed.
    """
    cls = error if isinstance(error, type) else type(error)
    for base in cls.__mro__:
        entry = ERROR_TABLE.get(base)
        if entry is not None:
            return entry
    return UNMAPPED


def http_status_for(error: BaseException) -> int:
    """The HTTP status a REST handler answers ``error`` with."""
    return mapping_for(error).http_status


def exit_code_for(error: BaseException) -> int:
    """The exit code ``jupyter mlops`` ends with when a command raises ``error``."""
    return mapping_for(error).exit_code
