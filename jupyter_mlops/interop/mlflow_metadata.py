"""Tags and descriptions of experiments, registered models and versions, both ways between
MLflow and this store (``import mlflow`` / ``export mlflow``).

An experiment's description is MLflow's tag ``mlflow.note.content`` (as this project's MLflow
API shows it), so it travels as that tag. Either way only what the other side lacks is
written: a key the destination already has keeps its value (an edit made there is not
overwritten), and a description is set only where there is none; a second run adds nothing.
Every value is checked where it enters (a bad key, an oversized value, a NUL): one note,
skipped, never aborting the rest.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.errors import ConflictError, MlopsError, NotFoundError

NOTE_TAG = "mlflow.note.content"
#: MLflow's limits (mlflow/utils/validation.py): experiment tags 5,000 characters, registry
#: tags 5,000 (model and version), descriptions 5,000 for the registry.
MAX_TAG_VALUE = 5000


def _bad(key: Any, value: Any) -> str | None:
    from jupyter_mlops.interop.mlflow_import import _bad_key

    why = _bad_key(key)
    if why is None and not isinstance(value, str):
        why = "a value that is not text"
    if why is None and len(value) > MAX_TAG_VALUE:
        why = f"a value of {len(value)} characters, over the {MAX_TAG_VALUE} limit"
    if why is None and "\x00" in value:
        why = "a NUL character in the value"
    return why


def _missing(theirs: dict, ours: dict, what: str, note) -> dict[str, str]:
    """The tags of ``theirs`` whose key ``ours`` lacks, each checked (bad ones noted)."""
    out = {}
    for key, value in (theirs or {}).items():
        if key in ours:
            continue
        why = _bad(key, value)
        if why:
            note(f"tag {str(key)[:60]!r} of {what}: {why}; skipped")
            continue
        out[key] = value
    return out


# ---------------------------------------------------------------------- import
def import_metadata(client, experiments: list[dict], models: list[dict], report) -> None:
    """Add MLflow's experiment, model and version tags and descriptions to ``client``'s
    store where it has none (see the module docstring); counts in ``report.metadata_added``."""
    note = report.notes.append
    ours = {e.name: e for e in client.list_experiments("all")}
    for e in experiments:
        tags = e.get("tags") or {}
        if e.get("lifecycle_stage") == "deleted" or not tags:
            continue
        what = f"experiment {e['name']!r}"
        exp = ours.get(e["name"])
        if exp is None:  # an MLflow experiment without runs: it exists here too
            try:
                exp = client.create_experiment(e["name"])
            except MlopsError as exc:
                note(f"{what}: {str(exc)[:120]}; its tags skipped")
                continue
        elif exp.lifecycle_stage == "deleted":
            note(f"{what}: deleted in this store; its tags skipped (restore it to import them)")
            continue
        for key, value in _missing(tags, exp.tags, what, note).items():
            try:
                client.set_experiment_tag(exp.id, key, value)
                report.metadata_added += 1
            except MlopsError as exc:
                note(f"tag {key[:60]!r} of {what}: {str(exc)[:120]}; skipped")
    registry = client.registry
    for m in models:
        try:
            model = registry.get_model(m["name"])
        except NotFoundError:
            continue  # not imported (noted by the registry import)
        what = f"model {m['name']!r}"
        _add(report, note, what, model.tags, m.get("tags"), model.description,
             m.get("description"),
             lambda k, v, name=model.name: registry.set_model_tag(name, k, v),
             lambda d, name=model.name: registry.describe_model(name, d))
        for v in m["versions"]:
            try:
                version = registry.get_version(m["name"], int(v["version"]))
            except (NotFoundError, ValueError, TypeError):
                continue
            _add(report, note, f"{what} version {version.version}", version.tags,
                 v.get("tags"), version.description, v.get("description"),
                 lambda k, val, n=model.name, num=version.version:
                     registry.set_version_tag(n, num, k, val),
                 lambda d, n=model.name, num=version.version:
                     registry.describe_version(n, num, d))


def _add(report, note, what: str, our_tags: dict, their_tags: dict | None,
         our_description: str | None, their_description: str | None, set_tag, describe
         ) -> None:
    for key, value in _missing(their_tags or {}, our_tags, what, note).items():
        try:
            set_tag(key, value)
            report.metadata_added += 1
        except MlopsError as exc:
            note(f"tag {key[:60]!r} of {what}: {str(exc)[:120]}; skipped")
    if their_description and not our_description:
        why = _bad("description", their_description)
        if why:
            note(f"description of {what}: {why}; skipped")
            return
        try:
            describe(their_description)
            report.metadata_added += 1
        except (MlopsError, ConflictError) as exc:
            note(f"description of {what}: {str(exc)[:120]}; skipped")


# ---------------------------------------------------------------------- export
def experiment_tags(exp) -> dict[str, str]:
    """An experiment's tags as MLflow holds them: its description as ``mlflow.note.content``."""
    tags = dict(exp.tags)
    if exp.description and NOTE_TAG not in tags:
        tags[NOTE_TAG] = exp.description
    return tags


def export_experiment(ml, experiment_id: str, exp, report) -> None:
    """Our experiment's tags (description included) onto MLflow's ``experiment_id`` where
    it has none under that key."""
    theirs = ml.get_experiment(experiment_id).tags or {}
    what = f"experiment {exp.name!r}"
    for key, value in _missing(experiment_tags(exp), theirs, what, report.notes.append).items():
        ml.set_experiment_tag(experiment_id, key, value)
        report.metadata_exported += 1


def export_model(ml, model, report) -> None:
    """A registered model's tags and description onto MLflow's model of the same name."""
    theirs = ml.get_registered_model(model.name)
    what = f"model {model.name!r}"
    for key, value in _missing(model.tags, theirs.tags or {}, what,
                               report.notes.append).items():
        ml.set_registered_model_tag(model.name, key, value)
        report.metadata_exported += 1
    if model.description and not theirs.description:
        ml.update_registered_model(model.name, description=model.description)
        report.metadata_exported += 1


def export_version(ml, name: str, number: str, version, report) -> None:
    """A version's tags and description onto MLflow's version ``number`` of ``name``."""
    theirs = ml.get_model_version(name, number)
    what = f"model {name!r} version {number}"
    for key, value in _missing(version.tags, theirs.tags or {}, what,
                               report.notes.append).items():
        ml.set_model_version_tag(name, number, key, value)
        report.metadata_exported += 1
    if version.description and not theirs.description:
        ml.update_model_version(name, number, description=version.description)
        report.metadata_exported += 1
