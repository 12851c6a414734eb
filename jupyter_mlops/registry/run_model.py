"""A fitted model written to a run as artifacts, in the registry's safe format.

``<name>/model.skops`` is the model (skops: loads without running code from the file) and
``<name>/model.json`` says what it is: flavor, class, the types outside skops' trusted set,
the signature inferred from the training inputs and a few input rows. The model is *not*
registered: ``register_model("runs:/<run id>/model/model.skops", name, trusted_types=...)``
does that later, with the same checks as any run-logged file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.registry import boosters, wrapper_params
from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.registry.signature import example_to_json, infer_signature

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ArtifactRecorder


def log_model(client: ArtifactRecorder, run_id: str, model: Any, training_input: Any = None, *,
              name: str = "model") -> list:
    """Save ``model`` with skops as the run's ``<name>/model.skops`` plus its description.

    Parameters
    ----------
    client : Client
        The client of the run's store.
    run_id : str
    model : fitted scikit-learn estimator or pipeline, LightGBM or XGBoost model
        LightGBM and XGBoost models (boosters and their scikit-learn wrappers) are saved in
        the library's own format instead: ``<name>/lightgbm.txt`` (LightGBM's text model)
        or ``<name>/xgboost.json`` (XGBoost's JSON model, with the wrapper's attributes for
        ``XGBClassifier().load_model``). Neither format can run code when loaded. A wrapper's
        description also keeps its constructor params (``get_params()``'s JSON values; the
        others named in ``params_left_out``), which the registry sets back on load.
    training_input : DataFrame or numpy array, optional
        The data the model was fitted on: its signature and first rows are recorded. Data a
        signature cannot be inferred from is left out of the description (the model is kept).
    name : str
        The artifact folder (default ``model``).

    Returns
    -------
    list of ArtifactRecord

    Raises
    ------
    InvalidInputError
        skops cannot save this model (e.g. it holds a lambda).
    """
    records = []
    for filename, payload in model_files(model, training_input, name=name):
        records += client.log_artifact(run_id, payload, filename)
    return records


def model_files(model: Any, training_input: Any = None, *, name: str = "model"
                ) -> list[tuple[str, Any]]:
    """The files :func:`log_model` writes, serialised now: ``[(artifact name, bytes or
    JSON-able description), ...]`` (autologging writes them after ``fit`` returned)."""
    native = booster_file(model)
    if native is not None:
        flavor, filename, data = native
        description = _describe(model, training_input, {"flavor": flavor, "file": filename})
        return [(f"{name}/{filename}", data), (f"{name}/model.json", description)]
    saved = get_flavor("skops").save(model)
    description = _describe(model, training_input, {
        "flavor": saved.flavor, "model_class": saved.model_class,
        "untrusted_types": list(saved.untrusted_types)})
    return [(f"{name}/model.skops", saved.data), (f"{name}/model.json", description)]


def _describe(model: Any, training_input: Any, description: dict[str, Any]) -> dict[str, Any]:
    """``description`` plus the class, classes and the signature of ``training_input``."""
    if "model_class" not in description:
        cls = type(model)
        description = {"flavor": description["flavor"],
                       "model_class": f"{cls.__module__}.{cls.__qualname__}",
                       **{k: v for k, v in description.items() if k != "flavor"}}
        classes = getattr(model, "classes_", None) if hasattr(model, "get_params") else None
        if classes is not None:
            description["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        if description["model_class"] in boosters.WRAPPERS:
            description.update(wrapper_params.recorded(model))
    if training_input is not None:
        try:
            description["signature"] = infer_signature(training_input).to_dict()
            description["input_example"] = example_to_json(training_input)
        except Exception:  # sparse or ragged input: no signature, the model still counts
            description["signature"] = None
    return description


def booster_file(model: Any) -> tuple[str, str, bytes] | None:
    """``(flavor, file name, bytes)`` of a LightGBM or XGBoost model in its own format, or
    None for any other model. No import of either library unless the model is theirs."""
    package = type(model).__module__.split(".", 1)[0]
    if package == "lightgbm":
        booster = getattr(model, "booster_", model)
        return "lightgbm", "lightgbm.txt", booster.model_to_string().encode()
    if package == "xgboost":
        return "xgboost", "xgboost.json", boosters.xgboost_json(model)
    return None
