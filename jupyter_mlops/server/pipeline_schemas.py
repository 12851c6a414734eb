"""Response models of the pipeline and schedule routes (see ``docs/openapi.yaml``)."""

from __future__ import annotations

from typing import Any

from jupyter_mlops.errors import InvalidInputError


def check_empty_body(body: dict[str, Any], what: str) -> None:
    """Schedule actions take no fields: refuse any, so a typo is not silently ignored."""
    if body:
        raise InvalidInputError(f"{what} takes no fields; got {sorted(body)}.")


def _steps_of_spec(spec: dict | None) -> list[dict[str, Any]]:
    return [{"name": s.get("name"), "notebook": s.get("notebook"),
             "depends_on": list(s.get("depends_on") or [])}
            for s in (spec or {}).get("steps", []) if isinstance(s, dict)]


def pipeline_json(p: Any, last_run: Any | None) -> dict[str, Any]:
    """A pipeline: its steps and their dependencies (from the latest stored spec)."""
    spec = p.spec or {}
    return {
        "id": p.id, "name": p.name, "path": p.path, "spec_digest": p.spec_digest,
        "created_at": p.created_at, "updated_at": p.updated_at,
        "experiment": spec.get("experiment"),
        "parameters": spec.get("parameters") or {},
        "steps": _steps_of_spec(spec),
        "last_run": None if last_run is None else pipeline_run_json(last_run),
    }


def step_json(s: Any) -> dict[str, Any]:
    """One step of a pipeline run: status, attempts, cache hit, timings, error, child run."""
    out = s.to_dict()
    out["cache_hit"] = s.status == "CACHED"
    out["duration"] = (s.ended_at - s.started_at
                       if s.started_at is not None and s.ended_at is not None else None)
    return out


def pipeline_run_json(r: Any, spec: dict | None = None) -> dict[str, Any]:
    """A pipeline run; with ``spec`` also its steps and the DAG edges between them."""
    out = r.to_dict()
    out.pop("steps", None)
    out["duration"] = r.ended_at - r.started_at if r.ended_at is not None else None
    if spec is not None:
        names = {s.step for s in r.steps}
        out["steps"] = [step_json(s) for s in r.steps]
        out["edges"] = [{"src": dep, "dst": s["name"]} for s in _steps_of_spec(spec)
                        for dep in s["depends_on"] if dep in names and s["name"] in names]
    return out


def fire_json(f: Any) -> dict[str, Any]:
    out = f.to_dict()
    out["manual"] = str(f.fired_by).startswith("run-now:")
    return out


def schedule_json(s: Any, last_fire: Any | None = None) -> dict[str, Any]:
    out = s.to_dict()
    out["last_fire"] = None if last_fire is None else fire_json(last_fire)
    return out
