"""Offset paging of MLflow list answers: ``max_results`` and ``page_token`` in, one page and
``next_page_token`` out. The token is opaque to MLflow's clients (they send back what they
got); here it is the offset of the next page, as MLflow's own SQL store encodes it
(base64 JSON ``{"offset": n}``). A bare number, as earlier versions of this server answered,
is still accepted."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from jupyter_mlops.mlflow_api import fields
from jupyter_mlops.mlflow_api.errors import invalid

_MAX_OFFSET = 10**9


def size(request: dict, default: int | None, limit: int) -> int | None:
    """``max_results``, checked to lie in ``1..limit`` (``default`` when absent)."""
    value = fields.integer(request, "max_results", default)
    if value is not None and not 1 <= value <= limit:
        raise invalid(f"Invalid value {value} for parameter 'max_results' supplied: it must "
                      f"be between 1 and {limit}.")
    return value


def offset(request: dict) -> int:
    """Where the page starts: 0 without a token."""
    token = fields.one(request, "page_token")
    if not token:
        return 0
    if isinstance(token, str) and token.isdigit() and len(token) < 10:
        return int(token)
    try:
        value = json.loads(base64.urlsafe_b64decode(str(token)[:200]))["offset"]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_OFFSET:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise invalid("Invalid page token: pass the next_page_token of a previous answer.")


def token(next_offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": next_offset}).encode()).decode()


def page(items: Sequence[Any], request: dict, default: int | None, limit: int
         ) -> tuple[Sequence[Any], str | None]:
    """``(the page, next_page_token or None)`` of ``items``, all of them in order."""
    start, count = offset(request), size(request, default, limit)
    end = len(items) if count is None else start + count
    return items[start:end], (token(end) if end < len(items) else None)
