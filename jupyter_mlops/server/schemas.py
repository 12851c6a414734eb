"""Request and response models of the REST API (kept in sync with ``docs/openapi.yaml``).

Parsing turns query strings and bodies into typed values or raises
:class:`~jupyter_mlops.errors.InvalidInputError` (→ 400); serialisers turn the client's
records into the JSON documents the panel reads.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Any

from jupyter_mlops.errors import InvalidInputError

#: A number the store can look up: ASCII digits, no more than int64 has.
_STORE_NUMBER = re.compile(r"[0-9]{1,19}")
#: media types we pass through as Content-Type; anything else is served as octet-stream.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"\\;]')


@dataclasses.dataclass(frozen=True)
class RunsQuery:
    """``GET runs`` query: ``filter``, ``experiment``, ``order_by`` (repeatable or comma list),
    ``limit``, ``offset``."""

    filter: str | None
    experiment: str | None
    order_by: list[str]
    limit: int
    offset: int


@dataclasses.dataclass(frozen=True)
class RunPatch:
    """``PATCH runs/<id>`` body: a new ``name`` and/or ``tags`` to set (string values)."""

    name: str | None
    tags: dict[str, str]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "RunPatch":
        unknown = set(body) - {"name", "tags"}
        if unknown:
            raise InvalidInputError(
                f"Unknown field(s) {sorted(unknown)} in the run update; allowed: name, tags.")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidInputError("'name' must be a string.")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict):
            raise InvalidInputError("'tags' must be an object of tag names to string values.")
        for key, value in tags.items():
            if value is None:
                raise InvalidInputError(
                    f"Cannot delete tag {key!r}: removing tags is not supported yet; "
                    "set it to another value instead.")
            if not isinstance(value, (str, int, float, bool)):
                raise InvalidInputError(f"Tag {key!r} must have a string value.")
        if name is None and not tags:
            raise InvalidInputError("Nothing to update: give 'name' and/or 'tags'.")
        return cls(name=name, tags={k: str(v) for k, v in tags.items()})


def check_name_or_number(text: str, what: str) -> str:
    """A path segment that names something or gives its number (a schedule, a version, a
    lineage node's id). The stores read any ``str.isdigit()`` text as a number, and that
    includes "²" and "٣" (which ``int()`` refuses or misreads) and digit runs beyond int64
    (which no integer column holds): refuse those here, as 400, instead of as a 500 there."""
    if text.isdigit() and not (_STORE_NUMBER.fullmatch(text) and int(text) < 2**63):
        raise InvalidInputError(
            f"The {what} {text[:40]!r} reads as a number but is not one the store can hold: "
            "numbers are ASCII digits 0-9 within the 64-bit integer range.")
    return text


def check_artifact_name(name: str) -> str:
    """Refuse names that could mean a path outside the run (defence in depth: names are
    looked up in the catalog and blobs are addressed by digest, never by this path)."""
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in name.split("/"))
        or posixpath.normpath(name) != name
    ):
        raise InvalidInputError(
            f"Invalid artifact name {name!r}: use the relative name listed by GET runs/<id>.")
    return name


def safe_media_type(media_type: str | None) -> str:
    if media_type and _MEDIA_TYPE.match(media_type):
        return media_type
    return "application/octet-stream"


def attachment_header(name: str) -> str:
    """``Content-Disposition: attachment`` with an ASCII fallback and an RFC 5987 name."""
    from urllib.parse import quote

    base = name.rsplit("/", 1)[-1] or "artifact"
    ascii_name = _UNSAFE_FILENAME.sub("_", base.encode("ascii", "replace").decode("ascii"))
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base, safe='')}"


# ---------------------------------------------------------------------- responses
def run_json(run: Any) -> dict[str, Any]:
    """A run row: id, name, experiment, status, user, times, params, latest metrics, tags."""
    return run.to_dict()


def run_detail_json(detail: Any) -> dict[str, Any]:
    """One run flattened: the run fields plus artifacts, datasets, code, environment…"""
    body = detail.to_dict()
    out = body.pop("run")
    for artifact in body.get("artifacts", []):
        artifact.pop("run_id", None)
    out.update(body)
    return out


def run_diff_json(diff: Any) -> dict[str, Any]:
    """A :class:`~jupyter_mlops.tracking.notebook_diff.RunDiff` as JSON: every aligned cell
    (status, sources, unified line diffs of source and outputs), changed params and metrics,
    and the runs without a notebook snapshot."""
    return diff.to_dict()


def runs_page_json(runs: list[Any], total: int, query: RunsQuery) -> dict[str, Any]:
    return {
        "runs": [run_json(r) for r in runs],
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        # Names filter keys no run has, with the closest known ones (Client.filter_hint).
        "hint": getattr(runs, "hint", None),
    }


def metric_history_json(run_id: str, key: str, points: list[Any], max_points: int
                        ) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "key": key,
        "max_points": max_points,
        "points": [[p.step, _finite(p.value), p.timestamp] for p in points],
    }


def _finite(value: float) -> float | str | None:
    if value != value:
        return None
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value
