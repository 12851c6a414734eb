"""A model version loaded back from the registry, with its signature enforced on predict."""

from __future__ import annotations

from typing import Any

from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.registry.signature import Signature
from jupyter_mlops.store.registry_records import ModelVersionRecord

_CHECKED = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


class LoadedModel:
    """The model object plus the version it came from.

    ``predict`` (and ``predict_proba``, ``decision_function``, ``transform``) check the input
    against the version's signature first; any other attribute is the model's own. The raw
    object is ``.model``.

    Attributes
    ----------
    model : object
        The loaded estimator or generic model (for a ``lightning`` version, the module given
        as ``module=``, else its state dict).
    version : ModelVersionRecord
        Name, version number, digest, metrics… of what was loaded.
    signature : Signature or None
    """

    def __init__(self, model: Any, version: ModelVersionRecord):
        self.model = model
        self.version = version
        self.signature = Signature.from_dict(version.signature) if version.signature else None
        #: The model's own scoring function on an array or DataFrame, no signature check
        #: (a bare ``xgboost.Booster`` scores through ``inplace_predict``, a Lightning module
        #: through its forward pass; a state dict refuses to).
        self.raw_predict = get_flavor(version.flavor).predict_function(model)

    def check_input(self, data: Any) -> Any:
        """Return ``data`` as the model expects it, or raise InvalidInputError."""
        return self.signature.enforce(data) if self.signature is not None else data

    def predict(self, data: Any, **kwargs: Any) -> Any:
        return self.raw_predict(self.check_input(data), **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in ("model", "version", "signature", "raw_predict"):  # not yet set (copy)
            raise AttributeError(name)
        attr = getattr(self.model, name)
        if name in _CHECKED and callable(attr):
            def checked(data: Any, *args: Any, **kwargs: Any) -> Any:
                return attr(self.check_input(data), *args, **kwargs)

            checked.__doc__ = getattr(attr, "__doc__", None)
            return checked
        return attr

    def __repr__(self) -> str:
        v = self.version
        return f"<LoadedModel {v.name} v{v.version} ({v.model_class}, {v.flavor})>"
