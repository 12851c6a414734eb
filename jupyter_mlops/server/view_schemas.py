"""Requests and responses of the panel's run views: sweep, grouped curves, cells, reports.

The views themselves are built by Client methods (``client.sweep_view`` …) as plain data;
here the query strings are checked at the door and the report's download headers are made.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from jupyter_mlops.errors import InvalidInputError

#: Runs a grouped-curves request may name, and a comparison report.
MAX_GROUP_RUNS = 100
MAX_REPORT_RUNS = 50
MAX_GROUP_KEYS = 20
#: The standalone report never runs anything, even opened from the disk or inline.
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclasses.dataclass(frozen=True)
class GroupsQuery:
    """``GET compare/groups``: ``run`` (repeated), ``by`` (``params.X``/``tags.X``), ``key``
    (repeated, optional), ``max_points``."""

    runs: list[str]
    by: str
    keys: list[str]
    max_points: int


def run_list(values: list[str], lo: int, hi: int) -> list[str]:
    """The repeated ``run`` query argument: ``lo``..``hi`` run ids (or prefixes), each
    checked by :func:`jupyter_mlops.validation.check_run_id`, duplicates dropped."""
    from jupyter_mlops.validation import check_run_id

    ids = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not lo <= len(ids) <= hi:
        raise InvalidInputError(f"Name between {lo} and {hi} runs, as ?run=ID&run=ID…; "
                                f"got {len(ids)}.")
    return [check_run_id(i) for i in ids]


def groups_query(runs: list[str], by: str | None, keys: list[str], max_points: int
                 ) -> GroupsQuery:
    from jupyter_mlops.client.groups import check_group_key
    from jupyter_mlops.validation import check_key

    if not by:
        raise InvalidInputError("Say what to group by: ?by=params.NAME or ?by=tags.NAME.")
    check_group_key(by)
    keys = [k for k in keys if k]
    if len(keys) > MAX_GROUP_KEYS:
        raise InvalidInputError(f"Ask for at most {MAX_GROUP_KEYS} metrics (?key=) at once.")
    return GroupsQuery(run_list(runs, 1, MAX_GROUP_RUNS), by,
                       [check_key(k, "metric key") for k in keys], max_points)


def report_filename(stem: str) -> str:
    """An attachment name that is safe in a header: ASCII letters, digits, ``_.-``."""
    return f"{_SAFE.sub('_', stem)[:100] or 'report'}.html"


def report_headers(filename: str) -> dict[str, str]:
    return {"Content-Type": "text/html; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{report_filename(filename)}"',
            "Content-Security-Policy": REPORT_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store"}


def view_json(view: dict[str, Any]) -> dict[str, Any]:
    """A view dict as the client built it; fails here (500, logged) if it is not strict
    JSON, rather than sending the panel NaN it cannot parse."""
    json.dumps(view, allow_nan=False)
    return view
