"""Validation of the registry's names: models, aliases, roles, users; and JSON-safe metrics.

Checked where values enter the store, so nothing invalid is written whichever door it came in
by (a model name must stay unambiguous inside ``models:/NAME@ALIAS``).
"""

from __future__ import annotations

import math
import re

from jupyter_mlops.errors import InvalidInputError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}")
_ROLE = re.compile(r"[a-z][a-z0-9_\-]{0,63}")
#: Aliases that mean something else in a ``models:/`` URI.
RESERVED_ALIASES = ("latest",)


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"Model names are 1–256 characters of letters, digits, '_', '.' and '-', starting "
            f"with a letter or digit (so 'models:/NAME@ALIAS' stays unambiguous); got {name!r}.")
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or alias in RESERVED_ALIASES:
        raise InvalidInputError(
            f"Aliases are 1–128 letters, digits, '_' or '-', starting with a letter or '_' "
            f"(not a number, which would read as a version, and not 'latest'); got {alias!r}.")
    return alias


def check_role(role: object) -> str:
    if not isinstance(role, str) or not _ROLE.fullmatch(role):
        raise InvalidInputError(
            f"Role names are lowercase letters, digits, '_' or '-' (e.g. 'ml_engineer'); "
            f"got {role!r}.")
    return role


def check_user(user: object) -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > 128 \
            or not user.isprintable():
        raise InvalidInputError(f"A user name is 1–128 printable characters; got {user!r}.")
    return user


def clean_metrics(metrics: dict | None) -> dict[str, float | None]:
    """JSON-safe copy: NaN/inf become None (PostgreSQL's JSON rejects them)."""
    out: dict[str, float | None] = {}
    for key, value in (metrics or {}).items():
        v = float(value) if value is not None else None
        out[str(key)] = v if v is not None and math.isfinite(v) else None
    return out
