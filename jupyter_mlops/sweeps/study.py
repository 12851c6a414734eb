"""The Optuna study behind a sweep: found by name in the store, shared, and resumed.

The study lives in the RDB storage that belongs to the client's store
(:mod:`jupyter_mlops.store.sweep_storage`), so every process that opens the store and names
the sweep works on the same study: a second process joins it, a restarted kernel continues
it. Exactly one process creates the study (Optuna's unique study name decides the race) and
with it the parent run; the others wait for the parent run's id to appear on the study.

Trials left RUNNING by a process that died are found two ways: on this host at once (their
child run's writer process is provably gone, so the store's reaper marked the run KILLED);
from any host through Optuna's heartbeat (``fail_stale_trials`` when the heartbeat is older
than the grace period). Either way the trial is marked FAIL and its params are queued again,
so the retry takes its place and it does not count towards ``n_trials``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps.trial import ATTR_REASON, TAG_ROLE, TAG_SWEEP, TAG_TRIAL

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RecordingClient, SweepClient

#: Study attribute holding the parent run's id.
ATTR_PARENT = "mlops.parent_run"
#: Seconds a joining process waits for the creator to record the parent run.
PARENT_WAIT_S = 30.0

_storages: dict[str, Any] = {}
_storages_lock = threading.Lock()


def storage_for(store_url: str, heartbeat_interval: int | None) -> tuple[Any, str]:
    """The (cached) Optuna RDB storage of the store at ``store_url``, and its description."""
    from jupyter_mlops.store.sweep_storage import creation_lock, study_location

    key = f"{store_url}#{heartbeat_interval}"
    with _storages_lock:
        found = _storages.get(key)
        if found is None:
            import warnings

            from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

            loc = study_location(store_url)
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
                warnings.simplefilter("ignore")
                kwargs: dict[str, Any] = {}
                if heartbeat_interval:
                    kwargs = {"heartbeat_interval": int(heartbeat_interval),
                              "grace_period": int(heartbeat_interval) * 3,
                              "heartbeat_stale_trial_callback":
                                  RetryHeartbeatStaleTrialCallback(max_retry=3)}
                with creation_lock(store_url, loc):  # Optuna creates its tables here
                    storage = RDBStorage(loc.url, engine_kwargs=loc.engine_kwargs, **kwargs)
                found = (storage, loc.description)
            _storages[key] = found
    return found


def open_study(storage: Any, name: str, direction: str, sampler: Any, pruner: Any
               ) -> tuple[Any, bool]:
    """Create the study, or load it if it exists; True when this call created it.

    Raises
    ------
    InvalidInputError
        The study exists with the other direction.
    """
    import optuna
    from optuna.exceptions import DuplicatedStudyError

    try:
        return optuna.create_study(study_name=name, storage=storage, direction=direction,
                                   sampler=sampler, pruner=pruner), True
    except DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
    existing = study.direction.name.lower()
    if existing != direction:
        raise InvalidInputError(
            f"Sweep {name!r} exists and was started with direction={existing!r}; resume it "
            f"with direction={existing!r}, or give the new sweep another name.")
    return study, False


def parent_run(client: RecordingClient, study: Any, created: bool, *, name: str,
               experiment: str | None, params: dict[str, Any], description: str) -> str:
    """The id of the sweep's parent run: created by the study's creator, joined by others."""
    if not created:
        parent = _wait_for_parent(study)
        if parent is not None:
            run = client.store.runs.get_run(parent)
            if run.status == "RUNNING":
                client.attach_run(parent)  # another live process owns it: keep it alive
            return parent
    run = client.create_run(experiment=experiment, name=name,
                            tags={TAG_SWEEP: name, TAG_ROLE: "parent",
                                  "mlops.sweep.study": description})
    client.log_params(run.id, params)
    study.set_user_attr(ATTR_PARENT, run.id)
    return run.id


def _wait_for_parent(study: Any) -> str | None:
    deadline = time.monotonic() + PARENT_WAIT_S
    while True:
        parent = study.user_attrs.get(ATTR_PARENT)
        if parent is not None or time.monotonic() > deadline:
            return parent
        time.sleep(0.2)


def recover_dead_trials(client: SweepClient, study: Any, storage: Any, name: str) -> list[int]:
    """Fail and queue again the RUNNING trials whose process died on this host.

    Returns the numbers of the trials failed here.
    """
    from optuna.trial import TrialState

    running = {t.number: t for t in study.get_trials(deepcopy=False,
                                                     states=(TrialState.RUNNING,))}
    if not running:
        return []
    client.store.reap_dead_runs()  # a dead writer's child run becomes KILLED
    found = client.search_runs(
        f"tags.`{TAG_SWEEP}` = '{name}' and tags.`{TAG_ROLE}` = 'trial' "
        "and status = 'KILLED'", max_results=50_000, warn=False)
    dead = sorted({int(r.tags[TAG_TRIAL]) for r in found
                   if str(r.tags.get(TAG_TRIAL, "")).isdigit()} & set(running))
    for number in dead:
        trial = running[number]
        # What Optuna's own fail_stale_trials does: a FrozenTrial's storage id is only
        # reachable as _trial_id (the number is per study, the storage wants the id).
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            study.enqueue_trial(dict(trial.params), user_attrs={"mlops.retry_of": number},
                                skip_if_exists=False)
    return dead


def counted(study: Any) -> tuple[int, int, int]:
    """(finished trials that count towards n_trials, RUNNING trials, uncounted FAIL trials).

    A FAIL counts only when its objective failed, not its process (that one is retried: a
    WAITING copy, run by whichever process comes next, counts when it finishes)."""
    from optuna.trial import TrialState

    done = active = lost = 0
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            done += 1
        elif t.state == TrialState.FAIL:
            if ATTR_REASON in t.user_attrs:
                done += 1
            else:
                lost += 1
        elif t.state == TrialState.RUNNING:
            active += 1
    return done, active, lost

