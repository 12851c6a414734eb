"""Checks on the containers the Client accepts (the values inside go through validation.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_mlops.errors import InvalidInputError


def as_mapping(values: Any, what: str) -> Mapping:
    """``values`` itself when it is a mapping; otherwise one line saying a dict is wanted."""
    if not isinstance(values, Mapping):
        raise InvalidInputError(
            f"{what} must be a mapping of names to values (a dict), got "
            f"{type(values).__name__}.")
    return values
