"""The project's error for an exception a store write raised: is it the row's fault or not?

The writer's dead-letter path (:mod:`jupyter_mlops.tracking.dead_letter`) sets rows aside only
when the store refused them for what they hold; an outage must leave them queued. Telling the
two apart means looking inside SQLAlchemy's and the drivers' exceptions, which only the store
may import, so the store answers in the terms of :mod:`jupyter_mlops.errors`:

- about the data: :class:`InvalidInputError` (a value the backend cannot hold — SQLSTATE
  class 22 ``DataError``, a bind parameter the driver cannot convert, a Python ``ValueError``,
  ``UnicodeError``, ``OverflowError``, ``TypeError`` or ``ArithmeticError`` raised while
  encoding one) or :class:`AlreadyExistsError` (a constraint the row breaks);
- not about the data: :class:`NotFoundError` (the run was deleted: a foreign key) and
  :class:`StoreUnavailableError` (unreachable, locked, full, another schema: every row alike).

``engine.write_connection`` and the ``sqlite3`` writer in :mod:`.lite` already translate most
of these; this catches what reaches a caller untranslated (SQLAlchemy's non-DBAPI
``StatementError``, DBAPI errors raised outside a managed connection, encoding errors).
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from jupyter_mlops.errors import (
    AlreadyExistsError,
    InvalidInputError,
    MlopsError,
    NotFoundError,
    StoreUnavailableError,
)
from jupyter_mlops.store.engine import _is_foreign_key_violation

#: Python errors raised while encoding a value: the value's fault.
_VALUE_ERRORS = (ValueError, TypeError, OverflowError, ArithmeticError)


def store_error(exc: BaseException) -> BaseException:
    """``exc`` as the project's error type when it came from writing to a store, else ``exc``.

    Errors of the project pass through unchanged, and so does anything that is neither a
    database error nor a value's (``OSError``, ``MemoryError``…): the caller decides.
    """
    if isinstance(exc, MlopsError):
        return exc
    if isinstance(exc, IntegrityError):
        if _is_foreign_key_violation(exc):
            return NotFoundError(
                f"A record this refers to does not exist (was a run deleted?): {exc.orig}")
        return AlreadyExistsError(f"That record already exists ({exc.orig}).")
    if isinstance(exc, DataError):
        return InvalidInputError(f"The store refused a value: {exc.orig}.")
    if isinstance(exc, DBAPIError):
        return StoreUnavailableError(
            f"The metadata store refused the write for a reason that is not the row's: "
            f"{exc.orig}. Check that it is reachable, migrated and not full, then retry.")
    if isinstance(exc, StatementError):  # a bind parameter could not be converted
        if exc.orig is None:
            return InvalidInputError(f"The store refused a value: {exc}.")
        inner = store_error(exc.orig)
        return inner if isinstance(inner, MlopsError) else exc
    if isinstance(exc, _VALUE_ERRORS):
        return InvalidInputError(f"The store refused a value: {type(exc).__name__}: {exc}.")
    return exc
