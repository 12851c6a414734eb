"""A sweep as the panel draws it: trials, optimisation history, the space, importance.

Read from the sweep's Optuna study (found by the parent run's ``mlops.sweep`` tag in the
store's study storage) through :class:`~jupyter_mlops.sweeps.result.SweepResult`, so the
panel, the widgets and ``result.trials_dataframe()`` agree. Parameter importance is Optuna's
own (``optuna.importance.get_param_importances``), computed here, on the server.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client
    from jupyter_mlops.sweeps.result import SweepResult

#: At most this many trials are sent to the panel (the newest; a sweep of more is rare).
MAX_TRIALS = 2000


def open_sweep(client: Client, run_id: str) -> SweepResult:
    """The :class:`SweepResult` of the sweep whose parent run (or one of whose trials) is
    ``run_id``.

    Raises
    ------
    NotFoundError
        The run belongs to no sweep, or its study is not in the store's study storage
        (a sweep run with ``study_storage="memory"``).
    MissingExtraError
        Optuna is not installed.
    """
    from jupyter_mlops.extras import require

    run = client.get_run(run_id).run
    from jupyter_mlops.sweeps.trial import TAG_ROLE, TAG_SWEEP

    name = run.tags.get(TAG_SWEEP)
    if not name:
        raise NotFoundError(f"Run {run.id} is not part of a sweep (it has no "
                            f"{TAG_SWEEP!r} tag).")
    if run.tags.get(TAG_ROLE) != "parent" and run.parent_run_id:
        run = client.get_run(run.parent_run_id).run
    require("optuna", extra="sweeps", feature="Sweeps")
    import optuna

    from jupyter_mlops.sweeps.result import SweepResult
    from jupyter_mlops.sweeps.study import storage_for

    storage, _where = storage_for(client.store.url, None)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise NotFoundError(f"The study of sweep {name!r} is not in this store's study "
                            "storage (was it run with study_storage='memory'?).") from None
    n_trials = run.params.get("n_trials")
    return SweepResult(client=client, study=study, name=name, parent_run_id=run.id,
                       metric=run.params.get("metric") or "objective",
                       n_trials=int(n_trials) if str(n_trials).isdigit() else None)


def sweep_view(client: Client, run_id: str) -> dict[str, Any]:
    """The JSON-ready view of a sweep (see ``docs/rest-api.md``, ``GET runs/<id>/sweep``)."""
    result = open_sweep(client, run_id)
    study = result.study
    direction = study.direction.name.lower()
    trials = sorted(result.trials, key=lambda t: t.number)[-MAX_TRIALS:]
    runs = result.run_ids()
    reasons = _reasons(result)
    rows, history, best = [], [], None
    for t in trials:
        value = _json_number(t.value)
        rows.append({"number": t.number, "state": t.state.name, "value": value,
                     "params": {k: _json_value(v) for k, v in t.params.items()},
                     "run_id": runs.get(t.number), "reason": reasons.get(t.number)})
        if t.state.name == "COMPLETE" and value is not None:
            better = best is None or (value < best if direction == "minimize" else value > best)
            best = value if better else best
            history.append({"number": t.number, "value": value, "best": best})
    importance, note = _importance(result)
    return {"name": result.name, "parent_run_id": result.parent_run_id,
            "metric": result.metric, "direction": direction, "n_trials": result.n_trials,
            "trials": rows, "history": history, "space": _space(trials),
            "importance": importance, "importance_note": note}


def _reasons(result: SweepResult) -> dict[int, str]:
    from jupyter_mlops.sweeps.trial import TAG_REASON, TAG_TRIAL

    out: dict[int, str] = {}
    for r in reversed(result._trial_runs()):
        number = str(r.tags.get(TAG_TRIAL, ""))
        if number.isdigit() and r.tags.get(TAG_REASON):
            out[int(number)] = r.tags[TAG_REASON]
    return out


def _space(trials: list[Any]) -> list[dict[str, Any]]:
    """Each param's axis: ``float``/``int`` with low, high and log; or ``categorical``."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    axes: dict[str, dict[str, Any]] = {}
    for t in trials:
        for name, dist in t.distributions.items():
            if name in axes:
                continue
            if isinstance(dist, CategoricalDistribution):
                axes[name] = {"name": name, "kind": "categorical",
                              "choices": [_json_value(c) for c in dist.choices]}
            else:
                axes[name] = {"name": name,
                              "kind": "int" if isinstance(dist, IntDistribution) else "float",
                              "low": _json_number(dist.low), "high": _json_number(dist.high),
                              "log": bool(dist.log)}
    return [axes[k] for k in sorted(axes)]


def _importance(result: SweepResult) -> tuple[dict[str, float], str | None]:
    """Optuna's parameter importance, or the one-line reason it cannot be computed yet."""
    try:
        values = result.importance()
    except NotFoundError as exc:
        return {}, str(exc)
    except (RuntimeError, ValueError) as exc:  # e.g. every trial with the same params
        return {}, f"Parameter importance cannot be computed: {exc}"
    return {k: float(v) for k, v in values.items()}, None


def _json_number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return _json_number(value)
    return str(value)
