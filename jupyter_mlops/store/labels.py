"""User labels (artifact, dataset and run names): checked without importing SQLAlchemy.

Apart from ``catalog`` (which re-exports both names) so creating a run stays light.
"""

from __future__ import annotations

from jupyter_mlops.errors import InvalidInputError

MAX_NAME = 1024


def check_label(name: str, what: str = "artifact name") -> str:
    """Validate a user label: printable, bounded; it is never used as a path."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"The {what} must be a non-empty string.")
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInputError(
            f"The {what} must be at most {MAX_NAME} printable characters.")
    return name


def experiment_to_open(name: str | None, default: str) -> str:
    """The experiment a run goes to: ``name`` without spaces at either end, else ``default``.

    Refused: more than 256 characters, or a control character (a NUL cannot even be stored
    in PostgreSQL, which used to fail the write with a driver error instead of this line).
    """
    name = (name or default).strip()
    if not name or len(name) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInputError(
            f"Experiment names are 1–256 printable characters; got {name[:60]!r}.")
    return name
