"""MLflow's lightgbm and xgboost model folders as this registry's own flavors, never pickle.

``mlflow.lightgbm`` saves a ``Booster`` as ``model.lgb``: LightGBM's text model, which is this
registry's ``lightgbm`` flavor as it is, once it has passed the same checks as a registered
file (:mod:`.lightgbm_check`). (A scikit-learn wrapper it saves as a pickle or a
skops file; those stay on the generic path: a pickle loads only with ``trusted=True``.)

``mlflow.xgboost`` saves ``model.ubj`` (UBJSON, its default), ``model.json`` or the legacy
``model.xgb``, and names the class in the ``MLmodel`` file's ``model_class``. XGBoost's own
loader reads the file (a data format, not code) — once it has passed the same checks as a
registered JSON or UBJSON file (:func:`.boosters.check_xgboost_file`: XGBoost's UBJSON reader
trusts the lengths in the file) — and it is stored as XGBoost JSON, behind the
header that names the scikit-learn wrapper when it is one this registry builds
(:data:`jupyter_mlops.registry.boosters.WRAPPERS`), so ``load_model`` gives back an
``XGBClassifier`` as ``mlflow.xgboost.load_model`` does. That needs xgboost installed where
the import runs; without it the version is skipped with a note that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import boosters, lightgbm_check

#: The ``MLmodel`` file is a few hundred bytes; anything past this is not MLflow's.
MAX_MLMODEL_BYTES = 1 << 20
_XGBOOST_DATA = ("model.ubj", "model.json", "model.xgb")


#: What :func:`from_mlflow_folder` returns for a booster folder it could not bring in (noted).
SKIPPED = "skipped"


def from_mlflow_folder(files: Mapping[str, Callable[[], bytes]], note: Callable[[str], None],
                       label: str) -> tuple[bytes, str, str] | str | None:
    """``(file in this registry's format, flavor, model class)`` for an MLflow model folder
    of the lightgbm or xgboost flavor; :data:`SKIPPED` when it is one but cannot be brought
    in (the reason noted); None for any other folder. ``files``: the folder's files by name
    (relative to it), each read on demand."""
    flavors = _flavors(files, note, label)
    if "lightgbm" in flavors:
        return _lightgbm(flavors["lightgbm"], files, note, label)
    if "xgboost" in flavors:
        return _xgboost(flavors["xgboost"], files, note, label)
    return None


def _flavors(files: Mapping[str, Callable[[], bytes]], note, label) -> dict:
    read = files.get("MLmodel")
    if read is None:
        return {}
    raw = read()
    if len(raw) > MAX_MLMODEL_BYTES:
        note(f"{label}: its MLmodel file is over {MAX_MLMODEL_BYTES} bytes, so not MLflow's; "
             "flavor not read")
        return {}
    import yaml

    try:
        document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        note(f"{label}: its MLmodel file is not YAML ({str(exc).splitlines()[0][:120]}); "
             "flavor not read")
        return {}
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict):
        return {}
    return {k: v for k, v in flavors.items() if isinstance(v, dict)}


def _lightgbm(conf: dict, files, note, label) -> tuple[bytes, str, str] | str | None:
    if conf.get("data") != "model.lgb" or "model.lgb" not in files:
        return None  # a wrapper saved as pickle or skops: the generic path
    native = files["model.lgb"]()
    try:  # stored as is, so checked here as a registered file is (:mod:`.lightgbm_check`)
        lightgbm_check.check_model(native)
    except InvalidInputError as exc:
        note(f"{label}: model.lgb is not a LightGBM text model ({exc}); skipped")
        return SKIPPED
    return native, "lightgbm", boosters.BOOSTERS["lightgbm"]


def _xgboost(conf: dict, files, note, label) -> tuple[bytes, str, str] | str:
    data = conf.get("data")
    if data not in _XGBOOST_DATA or data not in files:
        note(f"{label}: its xgboost flavor names data {str(data)[:80]!r}, not one of "
             f"{', '.join(_XGBOOST_DATA)} in the folder; skipped")
        return SKIPPED
    model_class = conf.get("model_class") or boosters.BOOSTERS["xgboost"]
    wrapper = boosters.WRAPPERS.get(model_class)
    if wrapper is not None and wrapper[0] != "xgboost":
        wrapper = None
    try:
        import xgboost
    except ImportError:
        note(f"{label}: an MLflow xgboost model ({data}); install xgboost where you import "
             "to bring it in as the xgboost flavor; skipped")
        return SKIPPED
    model = getattr(xgboost, wrapper[1])() if wrapper else xgboost.Booster()
    try:
        raw = files[data]()
        boosters.check_xgboost_file(raw)
        model.load_model(bytearray(raw))
        native = boosters.xgboost_json(model)
    except Exception as exc:  # XGBoostError with a C++ stack trace: its first line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        note(f"{label}: XGBoost could not read {data} ({first}); skipped")
        return SKIPPED
    if wrapper is None:
        return native, "xgboost", boosters.BOOSTERS["xgboost"]
    # XGBoost's JSON keeps the wrapper's own attributes: the header names only the class.
    return boosters.bundle("xgboost", native, model_class, None), "xgboost", model_class

