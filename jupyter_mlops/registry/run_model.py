"""A fitted model written to a run as artifacts, in the registry's safe format.

``<name>/model.skops`` is the model (skops: loads without running code from the file) and
``<name>/model.json`` says what it is: flavor, class, the types outside skops' trusted set,
the signature inferred from the training inputs and a few input rows. The model is *not*
registered: ``register_model("runs:/<run id>/model/model.skops", name, trusted_types=...)``
does that later, with the same checks as any run-logged file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    model : fitted scikit-learn estimator or pipeline
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
    saved = get_flavor("skops").save(model)
    description: dict[str, Any] = {"flavor": saved.flavor, "model_class": saved.model_class,
                                   "untrusted_types": list(saved.untrusted_types)}
    if training_input is not None:
        try:
            description["signature"] = infer_signature(training_input).to_dict()
            description["input_example"] = example_to_json(training_input)
        except Exception:  # sparse or ragged input: no signature, the model still counts
            description["signature"] = None
    records = client.log_artifact(run_id, saved.data, f"{name}/model.skops")
    records += client.log_artifact(run_id, description, f"{name}/model.json")
    return records
