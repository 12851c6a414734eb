"""The ``lightgbm`` and ``xgboost`` model flavors: each library's own model file, never pickle.

A file of either flavor is one of

* the library's native file, exactly as it writes it: LightGBM's text model
  (``Booster.model_to_string``, what autologging saves as ``model/lightgbm.txt``; its layout
  and indices checked by :mod:`.lightgbm_check` before LightGBM reads it), XGBoost's
  JSON model (``save_model(".json")``, ``model/xgboost.json``) or its UBJSON model
  (``save_model(".ubj")``). An XGBoost file is decoded in Python (:mod:`.ubjson` or
  ``json``) and its indices checked (:mod:`.xgboost_check`) before XGBoost reads it. Loaded
  back as the library's ``Booster``;
* the same native file behind one header line naming the scikit-learn wrapper it came from::

      jupyter-mlops/booster
      {"version": 1, "flavor": "lightgbm", "model_class": "lightgbm.sklearn.LGBMClassifier",
       "classes": ["neg", "pos"], "params": {"n_estimators": 50, ...},
       "params_left_out": ["objective"]}
      <native file>

  (the JSON on one line). Loaded back as that wrapper, like MLflow's lightgbm/xgboost
  flavors give back an ``LGBMClassifier``/``XGBClassifier``. LightGBM's text model does not
  hold a classifier's labels, hence ``classes``; XGBoost's file keeps the wrapper's own
  attributes but neither keeps its constructor params, hence ``params`` and
  ``params_left_out`` (see :mod:`.wrapper_params`), set back with ``set_params`` on load.

Loading never unpickles: the wrapper class comes from the fixed map :data:`WRAPPERS` (any
other name is refused and named), the booster is parsed by the library's own loader from
text/JSON, the labels are JSON scalars, and ``params`` are refused unless each key is one a
fresh instance of the class has in ``get_params()`` and each value a JSON scalar or list.
Registering ``runs:/<run>/model/lightgbm.txt`` (or ``xgboost.json``/``.ubj``) reads the
run's ``model.json`` beside it for the wrapper's class, labels and params; a class outside
the map is registered as the bare booster.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from typing import Any, ClassVar

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import lightgbm_check, ubjson, wrapper_params, xgboost_check
from jupyter_mlops.registry.file_header import split_header
from jupyter_mlops.tracking.json_params import check_params

MAGIC = b"jupyter-mlops/booster\n"
HEADER_VERSION = 1
_MAX_CLASSES = 100_000
BOOSTERS = {"lightgbm": "lightgbm.basic.Booster", "xgboost": "xgboost.core.Booster"}
#: Wrapper class name -> (flavor, attribute of the library's top module). Nothing else is built.
WRAPPERS = {
    "lightgbm.sklearn.LGBMClassifier": ("lightgbm", "LGBMClassifier"),
    "lightgbm.sklearn.LGBMRegressor": ("lightgbm", "LGBMRegressor"),
    "lightgbm.sklearn.LGBMRanker": ("lightgbm", "LGBMRanker"),
    "xgboost.sklearn.XGBClassifier": ("xgboost", "XGBClassifier"),
    "xgboost.sklearn.XGBRegressor": ("xgboost", "XGBRegressor"),
    "xgboost.sklearn.XGBRanker": ("xgboost", "XGBRanker"),
    "xgboost.sklearn.XGBRFClassifier": ("xgboost", "XGBRFClassifier"),
    "xgboost.sklearn.XGBRFRegressor": ("xgboost", "XGBRFRegressor"),
}


def library_of(model: Any) -> str | None:
    """``"lightgbm"``/``"xgboost"`` for those libraries' models, else None (no import)."""
    package = type(model).__module__.split(".", 1)[0]
    return package if package in BOOSTERS else None


def looks_like(data: bytes, filename: str) -> str | None:
    """The flavor a run's file appears to be (not validated: :meth:`inspect` does that)."""
    if data.startswith(MAGIC):
        try:
            header = json.loads(data[len(MAGIC):data.index(b"\n", len(MAGIC))])
            flavor = header.get("flavor") if isinstance(header, dict) else None
        except (ValueError, UnicodeDecodeError):
            flavor = None
        return flavor if flavor in BOOSTERS else "lightgbm"  # inspect names the damage
    if data.startswith((b"tree\n", b"tree\r\n")):
        return "lightgbm"
    if filename.lower().endswith((".json", ".ubj")) and data.lstrip()[:1] == b"{":
        return "xgboost"
    return None


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def check_classes(classes: Any, where: str) -> list:
    """A classifier's labels as stored: a list of distinct JSON scalars, sorted as
    scikit-learn's label encoder sorts them."""
    if not isinstance(classes, list) or not 2 <= len(classes) <= _MAX_CLASSES:
        raise InvalidInputError(f"{where}: 'classes' must be a list of 2 or more labels.")
    kinds = {str if isinstance(c, str) else float for c in classes
             if isinstance(c, str) or (isinstance(c, (int, float)) and not isinstance(c, bool)
                                       and math.isfinite(c))}
    if len(kinds) != 1 or any(isinstance(c, bool) or c is None for c in classes):
        raise InvalidInputError(f"{where}: 'classes' must be all text or all finite numbers.")
    if len(set(classes)) != len(classes) or list(classes) != sorted(classes):
        raise InvalidInputError(f"{where}: 'classes' must be distinct and sorted.")
    return classes


def split(data: bytes, flavor: str) -> tuple[dict | None, bytes]:
    """``(header or None, native file)``; InvalidInputError for a damaged header."""
    what = f"This {flavor} model file's header"
    header, native = split_header(data, MAGIC, HEADER_VERSION, what)
    if header is None:
        return None, data
    if header.get("flavor") != flavor:
        raise InvalidInputError(f"{what} says flavor {header.get('flavor')!r}, not {flavor!r}.")
    model_class = header.get("model_class")
    if WRAPPERS.get(model_class, (None,))[0] != flavor:
        raise InvalidInputError(
            f"{what} names class {str(model_class)[:200]!r}, which the registry does not "
            f"build; known: {', '.join(k for k, v in WRAPPERS.items() if v[0] == flavor)}.")
    if "classes" in header:
        check_classes(header["classes"], what)
    if "params" in header:
        check_params(header["params"], what)
    return header, native


def bundle(flavor: str, native: bytes, model_class: str, classes: list | None,
           params: dict | None = None) -> bytes:
    """``native`` behind the header line; ``params``: ``{"params": ..., "params_left_out":
    ...}`` as :func:`.wrapper_params.recorded` gives them."""
    header: dict[str, Any] = {"version": HEADER_VERSION, "flavor": flavor,
                              "model_class": model_class}
    if classes is not None:
        header["classes"] = classes
    header.update(params or {})
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + native


def wrapper_class(model_class: str) -> type:
    """The class :data:`WRAPPERS` maps ``model_class`` to (imports its library)."""
    import importlib

    library, attribute = WRAPPERS[model_class]
    return getattr(importlib.import_module(library), attribute)


class BoosterFormat:
    """What the two flavors share; :mod:`.flavors` mixes each into a ``Flavor``."""

    name: ClassVar[str]
    safe = True
    #: register_model reads the run's model.json beside the file (wrapper class, labels).
    reads_description = True

    # ------------------------------------------------------------------ per library
    def _native(self, model: Any) -> bytes:
        raise NotImplementedError  # pragma: no cover - each flavor defines it

    def _check_native(self, native: bytes) -> None:
        raise NotImplementedError  # pragma: no cover

    def _booster(self, native: bytes) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _wrapper(self, cls: type, native: bytes, header: dict) -> Any:
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------------ Flavor interface
    def save(self, model: Any):
        from jupyter_mlops.registry.flavors import SavedModel

        if library_of(model) != self.name:
            raise InvalidInputError(f"A {_class_name(model)} is not a {self.name} model; "
                                    "leave flavor unset to let the registry choose.")
        try:
            native = self._native(model)
        except Exception as exc:  # e.g. an unfitted wrapper: LGBMNotFittedError
            raise InvalidInputError(f"Cannot save this {_class_name(model)} as a {self.name} "
                                    f"model: {_one_line(exc)}. Fit it first.") from None
        model_class = _class_name(model)
        if model_class not in WRAPPERS:
            return SavedModel(native, self.name, BOOSTERS[self.name])
        classes = getattr(model, "classes_", None) if self.name == "lightgbm" else None
        if classes is not None:
            classes = check_classes([c.item() if hasattr(c, "item") else c for c in classes],
                                    f"This {model_class}")
        return SavedModel(bundle(self.name, native, model_class, classes,
                                 wrapper_params.recorded(model)), self.name, model_class)

    def inspect(self, data: bytes):
        """Check the file, parsing it with the library when it is installed."""
        from jupyter_mlops.registry.flavors import SavedModel

        header, native = split(data, self.name)
        self._check_native(native)
        try:  # the library's own parser reads it now: a damaged file is refused here
            self.load(data)
        except ImportError:  # registering where the library is not installed: checked above
            pass
        return SavedModel(data, self.name,
                          header["model_class"] if header else BOOSTERS[self.name])

    def with_description(self, saved, description: Any):
        """``saved`` (a bare native file from a run) behind the header ``description`` (the
        run's model.json) calls for; unchanged if it names no known wrapper."""
        from jupyter_mlops.registry.flavors import SavedModel

        if saved.data.startswith(MAGIC) or not isinstance(description, dict):
            return saved
        model_class = description.get("model_class")
        if WRAPPERS.get(model_class, (None,))[0] != self.name:
            return saved
        classes = None
        if self.name == "lightgbm" and model_class.endswith("Classifier"):
            classes = check_classes(description.get("classes"), "The run's model.json")
        params = {key: description[key] for key in ("params", "params_left_out")
                  if key in description}
        if "params" in params:
            try:  # the keys the class takes, when the library is installed here
                wrapper_params.check(wrapper_class(model_class), params["params"],
                                     "The run's model.json")
            except ImportError:
                check_params(params["params"], "The run's model.json")
        left_out = params.get("params_left_out", [])
        if not (isinstance(left_out, list) and all(isinstance(k, str) for k in left_out)):
            raise InvalidInputError("The run's model.json: 'params_left_out' must be a list "
                                    "of names.")
        return SavedModel(bundle(self.name, saved.data, model_class, classes, params),
                          self.name, model_class)

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        # Nothing to trust: only the library's own parser reads the file, and only a class
        # from WRAPPERS is built.
        header, native = split(data, self.name)
        self._check_native(native)
        if header is None:
            return self._booster(native)
        return self._wrapper(wrapper_class(header["model_class"]), native, header)

    def predict_function(self, model: Any):
        return predict_function(model)

    def _unreadable(self, exc: BaseException | str) -> InvalidInputError:
        return _unreadable(self.name, exc if isinstance(exc, str) else _one_line(exc))

    @property
    def _where(self) -> str:
        return f"This {self.name} model file's header"


class LightGBMFormat(BoosterFormat):
    """LightGBM's text model (``lightgbm.Booster`` or a scikit-learn wrapper)."""

    name = "lightgbm"

    def _native(self, model: Any) -> bytes:
        booster = getattr(model, "booster_", model)
        return booster.model_to_string().encode()

    def _check_native(self, native: bytes) -> None:
        lightgbm_check.check_model(native)

    def _booster(self, native: bytes) -> Any:
        import lightgbm

        try:
            return lightgbm.Booster(model_str=native.decode("utf-8"))
        except Exception as exc:  # LightGBMError, UnicodeDecodeError
            raise self._unreadable(exc) from None

    def _wrapper(self, cls: type, native: bytes, header: dict) -> Any:
        import numpy as np

        booster = self._booster(native)
        model = cls()
        # First: LightGBM's set_params also sets the private twin (``_objective``) of a key,
        # which the lines below then set from the booster.
        wrapper_params.apply(model, header.get("params"), self._where)
        model._Booster = booster
        model._n_features = model._n_features_in = booster.num_feature()
        model._objective = booster.params.get("objective") or None
        if "classes" in header or model_class_is_classifier(header):
            from lightgbm.sklearn import _LGBMLabelEncoder

            classes = header.get("classes")
            if classes is None:
                raise self._unreadable("a classifier's header has no 'classes'")
            expected = max(2, booster.num_model_per_iteration())
            if len(classes) != expected:
                raise self._unreadable(f"the header names {len(classes)} classes, the model "
                                       f"has {expected}")
            model._le = _LGBMLabelEncoder().fit(np.asarray(classes))
            model._classes = model._le.classes_
            model._n_classes = len(classes)
        model.fitted_ = True
        return model


def model_class_is_classifier(header: dict) -> bool:
    return str(header.get("model_class", "")).endswith("Classifier")


class XGBoostFormat(BoosterFormat):
    """XGBoost's JSON model (``xgboost.Booster`` or a scikit-learn wrapper)."""

    name = "xgboost"

    def _native(self, model: Any) -> bytes:
        return xgboost_json(model)

    def _check_native(self, native: bytes) -> None:
        check_xgboost_file(native)

    def _booster(self, native: bytes) -> Any:
        import xgboost

        booster = xgboost.Booster()
        try:
            booster.load_model(bytearray(native))
        except Exception as exc:  # XGBoostError with a C++ stack trace: its first line
            raise self._unreadable(exc) from None
        return booster

    def _wrapper(self, cls: type, native: bytes, header: dict) -> Any:
        model = cls()
        try:
            model.load_model(bytearray(native))
        except Exception as exc:
            raise self._unreadable(exc) from None
        # After: load_model sets objective, booster, base_score from the file's config; the
        # recorded params are what the wrapper was built with (get_params() as fitted).
        wrapper_params.apply(model, header.get("params"), self._where)
        return model


def check_xgboost_file(native: bytes) -> None:
    """Refuse anything but an XGBoost JSON or UBJSON model whose indices stay inside their
    arrays (:mod:`.xgboost_check`), before XGBoost's parser sees it (XGBoost tells the two
    formats apart by the byte after the brace, as :mod:`.ubjson` does)."""
    if ubjson.looks_like_ubjson(native):
        document = ubjson.loads(native)
    else:
        try:
            document = json.loads(native)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise _unreadable("xgboost", f"not JSON ({_one_line(exc)})") from None
    xgboost_check.check_model(document)


def _unreadable(flavor: str, detail: str) -> InvalidInputError:
    return InvalidInputError(f"This is not a readable {flavor} model file: {detail}.")


def xgboost_json(model: Any) -> bytes:
    """XGBoost's JSON model of a ``Booster`` or of a scikit-learn wrapper."""
    if hasattr(model, "get_booster") and hasattr(model, "save_model"):
        # The wrapper's own save keeps its scikit-learn attributes (classes, n_classes);
        # it writes to a path only.
        with tempfile.TemporaryDirectory(prefix="mlops-xgb-") as folder:
            path = os.path.join(folder, "model.json")
            model.save_model(path)
            with open(path, "rb") as fh:
                return fh.read()
    return bytes(model.save_raw(raw_format="json"))


def predict_function(model: Any):
    """How to score ``model`` on an array or DataFrame: ``model.predict``, except for a bare
    ``xgboost.Booster``, whose ``predict`` wants a DMatrix (``inplace_predict`` takes both)."""
    if _class_name(model) == BOOSTERS["xgboost"]:
        return model.inplace_predict
    return model.predict
