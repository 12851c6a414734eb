"""How model files are written and read: skops for scikit-learn, pickle only when trusted.

A *flavor* turns a model into bytes and back. ``skops`` loads without running code from the
file: every type it names must be in the trusted set (skops' defaults, the types recorded on
the version when it was registered, and any the caller passes), otherwise loading is refused
with the offending type names; its zip is first held to the archive limits
(:mod:`jupyter_mlops.archive_limits`), so a zip bomb is refused before skops inflates it.
``sklearn-trees`` (:mod:`.treefile`) is a faster file for
scikit-learn's decision trees and forests with the same guarantee: it rebuilds only a fixed
list of classes from JSON and plain arrays. ``lightgbm`` and ``xgboost`` (:mod:`.boosters`)
are those libraries' own text/JSON/UBJSON model files, read by their own parsers.
``lightning`` (:mod:`.lightning_weights`) is a LightningModule's weights (safetensors or a
tensors-only ``torch.save``) with its hparams. ``pickle`` and ``joblib`` files can run
arbitrary code when loaded, so both saving and loading them need an explicit ``trusted=True``.
"""

from __future__ import annotations

import abc
import dataclasses
import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import boosters, lightning_weights
from jupyter_mlops.registry.skops_import import skops_io

#: Types found in a file *we* just wrote from an in-memory model are recorded as trusted for
#: that version when they come from these packages: their presence proves only that the
#: registering user's own object contained them. Anything else must be named explicitly.
AUTO_TRUST_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_ZIP_MAGIC = b"PK\x03\x04"


@dataclasses.dataclass(frozen=True)
class SavedModel:
    """Bytes of a model file plus what the registry records about it."""

    data: bytes
    flavor: str
    model_class: str
    #: Types outside the loader's default trusted set that the file references.
    untrusted_types: tuple[str, ...] = ()


class Flavor(abc.ABC):
    """One model file format.

    ``safe`` flavors load without executing code from the file; the others refuse to save or
    load unless the caller passes ``trusted=True``.
    """

    name: ClassVar[str]
    safe: ClassVar[bool]
    #: register_model hands a run's file the run's description beside it
    #: (:meth:`with_description`), the file named by ``description_file``.
    reads_description: ClassVar[bool] = False
    description_file: ClassVar[str] = "model.json"

    @abc.abstractmethod
    def save(self, model: Any) -> SavedModel:
        """Serialise ``model``; raise :class:`InvalidInputError` if this flavor cannot."""

    @abc.abstractmethod
    def inspect(self, data: bytes) -> SavedModel:
        """Describe a file *without loading it* (class name, untrusted types).

        Raises :class:`InvalidInputError` if ``data`` is not a file of this flavor.
        """

    @abc.abstractmethod
    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        """Rebuild the model from ``data``.

        Raises :class:`InvalidInputError` naming what was refused when loading would need
        more trust than granted: types outside ``trusted_types`` for safe flavors,
        ``trusted=False`` for the others.
        """

    def with_description(self, saved: SavedModel, description: Any) -> SavedModel:
        """A run's file as registered, given the run's description of it (``model.json``,
        any JSON value or None). Only flavors with ``reads_description`` use it."""
        return saved

    def load_into(self, data: bytes, module: Any) -> Any:
        """Load ``data`` into ``module`` (a class to build, or an instance). Only flavors of
        weights without their code (``lightning``) take one; the others refuse."""
        raise InvalidInputError(f"module= is for lightning versions; a {self.name} version "
                                "loads without it.")

    def predict_function(self, model: Any) -> Callable[..., Any]:
        """How to score ``model`` (what :meth:`load` gave) on an array or DataFrame."""
        return model.predict


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_sklearn_model(model: Any) -> bool:
    """True for scikit-learn estimators and pipelines (no sklearn import if unused)."""
    if "sklearn" not in sys.modules and not type(model).__module__.startswith("sklearn"):
        return False
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


class SkopsFlavor(Flavor):
    name = "skops"
    safe = True

    def save(self, model: Any) -> SavedModel:
        sio = skops_io()
        try:
            data = _skops_dumps(model)
        except Exception as exc:  # skops raises TypeError/UnsupportedTypeException/...
            raise InvalidInputError(
                f"skops cannot save this {_class_name(model)}: {exc}. If it holds objects "
                "skops does not support (e.g. a lambda), register it with trusted=True and "
                "flavor='pickle'; loading it will then need trusted=True too.") from exc
        untrusted = sio.get_untrusted_types(data=data)
        return SavedModel(data, self.name, _class_name(model), tuple(untrusted))

    def inspect(self, data: bytes) -> SavedModel:
        sio = skops_io()
        _check_skops_zip(data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                schema = json.loads(zf.read("schema.json"))
            model_class = f"{schema['__module__']}.{schema['__class__']}"
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # a crafted or damaged file: report, never load
            raise InvalidInputError(f"This is not a readable skops model file: {exc}.") from exc
        return SavedModel(data, self.name, str(model_class)[:512], tuple(untrusted))

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        sio = skops_io()
        from skops.io.exceptions import UntrustedTypesFoundException

        allowed = sorted(set(trusted_types))
        _check_skops_zip(data)
        try:
            # skops audits every type in the file before constructing anything.
            return sio.loads(data, trusted=allowed)
        except UntrustedTypesFoundException:
            refused = sorted(set(self.inspect(data).untrusted_types) - set(allowed))
            raise InvalidInputError(
                f"Refused to load this model: its skops file references types outside the "
                f"trusted set: {', '.join(refused)}. Loading them could run code or crash the "
                f"process. Only if you trust whoever made the file, pass "
                f"trusted_types={refused!r}.") from None
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"This is not a readable skops model file: {exc}.") from exc
        except Exception as exc:  # e.g. written by an incompatible scikit-learn
            raise InvalidInputError(
                f"The skops file passed the type audit but could not be rebuilt: "
                f"{type(exc).__name__}: {exc}. Check that scikit-learn's version matches the "
                "one it was saved with.") from exc


def _check_skops_zip(data: bytes) -> None:
    """Refuse a skops zip that would inflate past the archive limits, before skops reads it."""
    from jupyter_mlops.archive_limits import check_zip

    check_zip(data, "skops model file", json_members=("schema.json",))


class SklearnTreesFlavor(Flavor):
    """Decision trees, random forests and extra-trees: JSON + arrays (see :mod:`.treefile`)."""

    name = "sklearn-trees"
    safe = True

    def save(self, model: Any) -> SavedModel:
        from jupyter_mlops.registry import treefile

        try:
            data = treefile.dumps(model)
        except treefile.Unsupported as exc:
            raise InvalidInputError(
                f"The sklearn-trees format cannot store this {_class_name(model)} exactly: "
                f"{exc}. Use flavor='skops' (or leave flavor unset: the registry then picks "
                "skops by itself).") from None
        return SavedModel(data, self.name, _class_name(model))

    def inspect(self, data: bytes) -> SavedModel:
        from jupyter_mlops.registry import treefile

        return SavedModel(data, self.name, treefile.inspect(data))

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        # Nothing to trust: the file can only make us build the classes treefile allows.
        from jupyter_mlops.registry import treefile

        return treefile.loads(data)


def _skops_dumps(model: Any) -> bytes:
    """``skops.io.dumps`` without pretty-printing ``schema.json``.

    skops writes the schema with ``indent=2``, which forces Python's pure-Python JSON encoder:
    for a 100-tree forest that is most of the save time and half the file. The compact form
    is the same JSON document, read by ``skops.io.loads`` unchanged. This reaches into two
    skops internals, so any change there falls back to the public ``dumps``.
    """
    import io
    import json

    skops_io()  # before any skops.io submodule: the import is the slow part
    try:
        import skops
        from skops.io._utils import SaveContext, get_state
    except ImportError:  # pragma: no cover - a skops without these internals
        import skops.io as sio

        return sio.dumps(model)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        context = SaveContext(zip_file=zf)
        state = get_state(model, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        zf.writestr("schema.json", json.dumps(state, separators=(",", ":")))
    return buffer.getvalue()


class PickleFlavor(Flavor):
    """Any Python object with ``predict``, pickled (by value via cloudpickle when present)."""

    name = "pickle"
    safe = False

    def save(self, model: Any) -> SavedModel:
        if not callable(getattr(model, "predict", None)):
            raise InvalidInputError(
                f"A {_class_name(model)} has no predict() method, so it cannot be registered "
                "as a generic model.")
        try:
            import cloudpickle as pickler  # pickles notebook-defined classes by value
        except ImportError:  # pragma: no cover - cloudpickle ships with dask
            import pickle as pickler
        try:
            data = pickler.dumps(model, protocol=5)
        except Exception as exc:
            raise InvalidInputError(f"Cannot pickle this {_class_name(model)}: {exc}.") from exc
        return SavedModel(data, self.name, _class_name(model))

    def inspect(self, data: bytes) -> SavedModel:
        if not data[:1] == b"\x80":
            raise InvalidInputError("This is not a pickle file (protocol 2 or newer).")
        return SavedModel(data, self.name, "unknown (pickle)")

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        _require_trust(self.name, trusted)
        import pickle

        return pickle.loads(data)  # noqa: S301 - only reached with trusted=True


class JoblibFlavor(Flavor):
    """A file written by ``joblib.dump`` (read only: we save generic models as pickle)."""

    name = "joblib"
    safe = False

    def save(self, model: Any) -> SavedModel:
        raise InvalidInputError("The registry writes generic models as 'pickle', not joblib.")

    def inspect(self, data: bytes) -> SavedModel:
        if not data:
            raise InvalidInputError("This joblib file is empty.")
        return SavedModel(data, self.name, "unknown (joblib)")

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        _require_trust(self.name, trusted)
        import joblib

        return joblib.load(io.BytesIO(data))  # only reached with trusted=True


def _require_trust(flavor: str, trusted: bool) -> None:
    if trusted is not True:
        raise InvalidInputError(
            f"Refused to load a {flavor} model file: unpickling can run arbitrary code. Pass "
            "trusted=True only if you trust whoever registered it.")


class LightGBMFlavor(boosters.LightGBMFormat, Flavor):
    """LightGBM's own text model; loads as a ``lightgbm.Booster`` or its scikit-learn wrapper
    (see :mod:`.boosters`)."""


class XGBoostFlavor(boosters.XGBoostFormat, Flavor):
    """XGBoost's own JSON or UBJSON model; loads as an ``xgboost.Booster`` or its
    scikit-learn wrapper (see :mod:`.boosters`)."""


class LightningFlavor(lightning_weights.LightningFormat, Flavor):
    """A LightningModule's weights and hparams; loads as the state dict, or into the module
    you pass (see :mod:`.lightning_weights`)."""


FLAVORS: dict[str, Flavor] = {f.name: f for f in (SkopsFlavor(), SklearnTreesFlavor(),
                                                   PickleFlavor(), JoblibFlavor(),
                                                   LightGBMFlavor(), XGBoostFlavor(),
                                                   LightningFlavor())}


def get_flavor(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise InvalidInputError(
            f"Unknown model flavor {name!r}; known: {', '.join(FLAVORS)}.") from None


def save_model(model: Any, flavor: str | None, trusted: bool) -> tuple[Flavor, SavedModel]:
    """Write an in-memory model in the flavor :func:`flavor_for_model` picks.

    Left to choose (``flavor=None``), a tree model whose content ``sklearn-trees`` cannot
    express exactly is written with skops instead.
    """
    chosen = flavor_for_model(model, flavor, trusted)
    if flavor is None and chosen.name == SklearnTreesFlavor.name:
        from jupyter_mlops.registry import treefile

        try:
            return chosen, SavedModel(treefile.dumps(model), chosen.name, _class_name(model))
        except treefile.Unsupported:
            chosen = FLAVORS["skops"]
    return chosen, chosen.save(model)


def flavor_for_model(model: Any, flavor: str | None, trusted: bool) -> Flavor:
    """Pick how to save an in-memory model: skops for scikit-learn (the faster
    ``sklearn-trees`` for tree models), pickle only if trusted."""
    if flavor is not None:
        chosen = get_flavor(flavor)
    elif boosters.library_of(model) is not None:
        chosen = FLAVORS[boosters.library_of(model)]
    elif is_sklearn_model(model):
        from jupyter_mlops.registry import treefile

        chosen = FLAVORS["sklearn-trees" if treefile.supports(model) else "skops"]
    else:
        chosen = FLAVORS["pickle"]
    if not chosen.safe and trusted is not True:
        raise InvalidInputError(
            f"A {_class_name(model)} can only be stored as a {chosen.name} file, which runs "
            "code when loaded. Pass trusted=True to register it as a generic model; loading "
            "it will need trusted=True as well. (scikit-learn models are stored with skops.)")
    return chosen


def flavor_for_file(data: bytes, filename: str, flavor: str | None, trusted: bool) -> Flavor:
    """Pick the flavor of a model file a run logged, from its content and name (not loaded)."""
    if flavor is not None:
        chosen = get_flavor(flavor)
    elif lightning_weights.looks_like(data, filename):  # before zips: torch.save writes one
        chosen = FLAVORS["lightning"]
    elif data[:4] == _ZIP_MAGIC:
        from jupyter_mlops.registry import treefile

        chosen = FLAVORS["sklearn-trees" if treefile.is_tree_file(data) else "skops"]
    elif filename.lower().endswith(".joblib"):
        chosen = FLAVORS["joblib"]
    elif data[:1] == b"\x80":
        chosen = FLAVORS["pickle"]
    elif boosters.looks_like(data, filename) is not None:
        chosen = FLAVORS[boosters.looks_like(data, filename)]
    else:
        raise InvalidInputError(
            f"{filename!r} is not a model file the registry can read (skops, sklearn-trees, "
            "LightGBM text, XGBoost JSON or UBJSON, Lightning weights, pickle or joblib).")
    if not chosen.safe and trusted is not True:
        raise InvalidInputError(
            f"{filename!r} is a {chosen.name} file, which runs code when loaded. Pass "
            "trusted=True to register it only if you trust whoever wrote it.")
    return chosen
