"""The ``sklearn-trees`` model file: scikit-learn tree models as JSON plus plain arrays.

Why: skops turns a 100-tree forest into ~500 zip members and a 6,000-node schema that it
walks three times (write, type audit, load) — about 0.2 s per register + load. This format
holds the same information in one JSON document and two concatenated arrays, and loads in a
few milliseconds.

Same guarantee as skops, by construction rather than by audit: nothing named in the file is
imported or called. The file is a zip (read with :func:`numpy.load`, ``allow_pickle=False``)
holding

* ``sklearn_trees.json`` — ``{"format": "jupyter-mlops/sklearn-trees", "version": 1,
  "sklearn": "<version that wrote it>", "root": <value>}``, where a value is a JSON scalar or
  list, or a tagged object ``{"$t": …}``: ``tuple``, ``dict`` (list of key/value pairs),
  ``scalar`` (a NumPy bool/int/float scalar: dtype string + value), ``array`` (a small
  numeric or text array inline: dtype, shape, flat values), ``npy`` (a larger numeric array:
  the name of a member ``<name>.npy``), ``strs`` (an object array whose items are all ``str``),
  ``est`` (an estimator: a class name from :func:`allowed` plus its ``__getstate__`` dict),
  ``tree`` (a fitted ``sklearn.tree._tree.Tree``: ``n_features``, ``n_classes``,
  ``n_outputs``, ``max_depth``, ``node_count``; its rows are the next ``node_count`` of the
  arrays below, trees taking them in the order they appear in the JSON);
* ``nodes.npy`` — every tree's nodes, concatenated (sklearn's ``NODE_DTYPE`` records);
* ``values.npy`` — every tree's node values, flattened and concatenated (float64).

Loading rebuilds estimators only through :func:`allowed`, a fixed map from public class
names to the classes themselves (``cls.__new__`` + sklearn's own ``__setstate__``); any other
name is refused and named. Arrays must have a numeric
(or fixed-width text) dtype — object arrays cannot even be read with ``allow_pickle=False``.
Every tree is checked before the model is returned (building a ``Tree`` only copies its
arrays; nothing walks them before that): exact node dtype, counts that match the array
lengths, children that point forward inside their own tree (so traversal stays in bounds and
ends), split features below the model's feature count, and one feature count throughout the
model. A failed check is an :class:`InvalidInputError`; nothing is returned. Before any of
that, the zip's declared sizes are held to the archive limits
(:mod:`jupyter_mlops.archive_limits`), so a small file that would inflate to gigabytes is
refused without being decompressed.

Saving walks the fitted model; anything it cannot express exactly this way (a subclass, a
``RandomState`` as ``random_state``, a callable, an object array of non-strings, …) raises
:class:`Unsupported`, and the registry falls back to skops for that model.
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
import zipfile
from typing import Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError

FORMAT = "jupyter-mlops/sklearn-trees"
FORMAT_VERSION = 1
HEADER = "sklearn_trees.json"
_NODES, _VALUES = "nodes", "values"
#: Arrays up to this many items go inline in the JSON (cheaper than a zip member each).
_INLINE_MAX = 64
_TREE_LEAF = -1
_MAX_NESTING = 64
_DTYPE_RE = re.compile(r"[<>|=]?(?:b1|[iu][1248]|f[248])|[<>|=]?U[0-9]{1,6}")
_PUBLIC = {
    "sklearn.tree": ("DecisionTreeClassifier", "DecisionTreeRegressor",
                     "ExtraTreeClassifier", "ExtraTreeRegressor"),
    "sklearn.ensemble": ("RandomForestClassifier", "RandomForestRegressor",
                         "ExtraTreesClassifier", "ExtraTreesRegressor"),
}


class Unsupported(Exception):
    """The model holds something this format cannot store exactly (use skops instead)."""


@functools.cache
def allowed() -> dict[str, type]:
    """Public class name → class: the only classes a file can make us build."""
    import importlib

    out = {}
    for module, names in _PUBLIC.items():
        mod = importlib.import_module(module)
        for name in names:
            out[f"{module}.{name}"] = getattr(mod, name)
    return out


@functools.cache
def _names_by_class() -> dict[type, str]:
    return {cls: name for name, cls in allowed().items()}


@functools.cache
def _tree_types() -> tuple[type, np.dtype]:
    from sklearn.tree._tree import NODE_DTYPE, Tree

    return Tree, np.dtype(NODE_DTYPE)


def supports(model: Any) -> bool:
    """Whether ``model``'s own class is one this format can store (its content may not be)."""
    cls = type(model)
    if not cls.__module__.startswith("sklearn.") \
            or not any(cls.__name__ in names for names in _PUBLIC.values()):
        return False  # decided without importing sklearn.ensemble
    return cls in _names_by_class()


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ================================================================================== paths
# Where a value sits in the model, for error messages: ``(parent, part)`` pairs built as the
# walk goes (cheap) and rendered only when something is reported.
def _where(path: Any) -> str:
    parts = []
    while type(path) is tuple:
        path, part = path
        if type(part) is int:
            parts.append(f"[{part}]")
        elif type(part) is str:
            parts.append(f".{part}")
        elif type(part) is list:
            parts.append(f"[{part[0]!r}]")
        else:
            parts.append(" (a key)")
    parts.append(str(path))
    return "".join(reversed(parts))


# ================================================================================== writing
_PLAIN = frozenset({type(None), bool, int, float, str})


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.nodes: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.trees: list[tuple[int, int, int]] = []  # (first row, node count, n_features)
        self.n_rows = 0
        self.n_features: set[int] = set()

    def enc(self, v: Any, path: Any, depth: int = 0) -> Any:
        t = type(v)
        if t in _PLAIN:
            return v
        if depth > _MAX_NESTING:
            raise Unsupported(f"{_where(path)} is nested too deeply")
        if t is list:
            return [self.enc(x, (path, i), depth + 1) for i, x in enumerate(v)]
        if t is tuple:
            return {"$t": "tuple",
                    "v": [self.enc(x, (path, i), depth + 1) for i, x in enumerate(v)]}
        if t is dict:
            return {"$t": "dict", "v": [[self.enc(k, (path, None), depth + 1),
                                         self.enc(x, (path, [k]), depth + 1)]
                                        for k, x in v.items()]}
        if isinstance(v, np.generic) and t is v.dtype.type:
            dt = v.dtype
            if dt.kind not in "biuf" or not _DTYPE_RE.fullmatch(dt.str):
                raise Unsupported(f"{_where(path)} is a NumPy {dt} scalar")
            return {"$t": "scalar", "dtype": dt.str, "v": v.item()}
        if t is np.ndarray:
            return self._array(v, path)
        if t in _names_by_class():
            return self._estimator(v, path, depth)
        if t is _tree_types()[0]:
            return self._tree(v, path)
        raise Unsupported(f"{_where(path)} is a {class_path(t)}")

    def _array(self, a: np.ndarray, path: Any) -> Any:
        dt = a.dtype
        if dt.kind == "O":
            if not all(type(x) is str for x in a.flat):
                raise Unsupported(f"{_where(path)} is an object array holding non-strings")
            return {"$t": "strs", "shape": list(a.shape), "v": list(a.flat)}
        if dt.kind not in "biufU" or dt.fields is not None or dt.subdtype is not None \
                or not _DTYPE_RE.fullmatch(dt.str):
            raise Unsupported(f"{_where(path)} is an array of dtype {dt}")
        if a.size <= _INLINE_MAX:
            return {"$t": "array", "dtype": dt.str, "shape": list(a.shape),
                    "v": a.ravel().tolist()}
        name = f"a{len(self.arrays)}"
        self.arrays[name] = a
        return {"$t": "npy", "name": name}

    def _estimator(self, obj: Any, path: Any, depth: int) -> Any:
        state = obj.__getstate__()
        if type(state) is not dict:
            raise Unsupported(f"{_where(path)}: {class_path(type(obj))} has a non-dict state")
        out = {}
        plain = _PLAIN
        for key, value in state.items():
            if type(key) is not str or key.startswith("__"):
                raise Unsupported(f"{_where(path)} has attribute {key!r}")
            # (most attributes are plain values: skip the call)
            out[key] = value if type(value) in plain else self.enc(value, (path, key), depth + 1)
        n_in = state.get("n_features_in_")
        if n_in is not None or "tree_" in state or "estimators_" in state:
            if not (type(n_in) is int or isinstance(n_in, np.integer)):
                raise Unsupported(f"{_where(path)} has no integer n_features_in_")
            self.n_features.add(int(n_in))
        return {"$t": "est", "class": _names_by_class()[type(obj)], "state": out}

    def _tree(self, tree: Any, path: Any) -> Any:
        _, (n_features, n_classes, n_outputs), state = tree.__reduce__()
        nodes, values = state["nodes"], state["values"]
        count = int(state["node_count"])
        if nodes.dtype != _tree_types()[1] or nodes.shape != (count,) \
                or values.dtype != np.float64 or values.shape[0] != count:
            raise Unsupported(f"{_where(path)} is a tree with an unexpected layout")
        self.nodes.append(nodes)
        self.values.append(values.reshape(-1))
        self.trees.append((self.n_rows, count, int(n_features)))
        self.n_rows += count
        self.n_features.add(int(n_features))
        return {"$t": "tree", "n_features": int(n_features),
                "n_classes": [int(c) for c in n_classes], "n_outputs": int(n_outputs),
                "max_depth": int(state["max_depth"]), "node_count": count}


def dumps(model: Any) -> bytes:
    """The file's bytes; :class:`Unsupported` if ``model`` cannot be stored exactly."""
    import sklearn

    if not supports(model):
        raise Unsupported(f"a {class_path(type(model))} is not one of the tree models")
    w = _Writer()
    root = w.enc(model, "model")
    header = {"format": FORMAT, "version": FORMAT_VERSION, "sklearn": sklearn.__version__,
              "root": root}
    _, node_dtype = _tree_types()
    arrays = dict(w.arrays)
    # (np.concatenate would drop the padding that makes NODE_DTYPE 64 bytes wide)
    arrays[_NODES] = (np.concatenate(w.nodes, dtype=node_dtype, casting="no") if w.nodes
                      else np.empty(0, node_dtype))
    arrays[_VALUES] = np.concatenate(w.values) if w.values else np.empty(0, np.float64)
    try:  # what we register must load: the loader's structural checks, on our own arrays
        _check_trees(arrays[_NODES], w.trees, w.n_features)
    except _Bad as exc:
        raise Unsupported(f"the loader would refuse it: {exc}") from None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(HEADER, json.dumps(header, separators=(",", ":"), allow_nan=True))
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)
    return buffer.getvalue()


def is_tree_file(data: bytes) -> bool:
    """True if ``data`` is a zip holding this format's header (nothing else is read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return HEADER in zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


# ================================================================================== reading
class _Bad(Exception):
    """A structural problem in the file (becomes an InvalidInputError)."""


def _is_int(v: Any) -> bool:
    return type(v) is int


class _Reader:
    """Decodes the header's values; the trees' rows are taken from the arrays in order."""

    def __init__(self, npz: Any, build: bool, written_with: str) -> None:
        import sklearn

        self.npz = npz
        self.build = build
        self.tree_cls, self.node_dtype = _tree_types()
        nodes = self._member_array(_NODES)
        if nodes.dtype != self.node_dtype or nodes.ndim != 1:
            # Another byte order or integer width (a file from another platform) is converted
            # the way sklearn converts a pickled tree's nodes; anything else is refused.
            if nodes.dtype.names is not None and not nodes.dtype.hasobject:
                try:
                    from sklearn.tree._tree import _check_node_ndarray

                    nodes = _check_node_ndarray(nodes, expected_dtype=self.node_dtype)
                except (ImportError, ValueError, TypeError, AttributeError):
                    pass
            if nodes.dtype != self.node_dtype or nodes.ndim != 1:
                raise _Bad(f"{_NODES}.npy has dtype {nodes.dtype}, not the tree node layout "
                           f"of scikit-learn {sklearn.__version__} ({self.node_dtype}); the "
                           f"file says it was written with scikit-learn {written_with[:40]}")
        self.nodes = nodes
        self.values = self._member_array(_VALUES)
        if self.values.dtype != np.dtype(np.float64) or self.values.ndim != 1:
            raise _Bad(f"{_VALUES}.npy must be a 1-d float64 array, not {self.values.dtype} "
                       f"{self.values.shape}")
        self.node_pos = 0
        self.value_pos = 0
        self.trees: list[tuple[int, int, int]] = []  # (start, count, n_features)
        self.n_features: set[int] = set()

    def _member_array(self, name: str) -> np.ndarray:
        if f"{name}.npy" not in self.npz.zip.namelist():
            raise _Bad(f"the file has no {name}.npy")
        a = self.npz[name]  # allow_pickle=False: an object array raises ValueError here
        if type(a) is not np.ndarray:
            raise _Bad(f"{name}.npy is not an array")
        return a

    def dec(self, v: Any, path: Any, depth: int = 0) -> Any:
        t = type(v)
        if t in _PLAIN:
            return v
        if depth > _MAX_NESTING:
            raise _Bad(f"{_where(path)} is nested too deeply")
        if t is list:
            return [self.dec(x, (path, i), depth + 1) for i, x in enumerate(v)]
        tag = v.get("$t") if t is dict else None
        if tag == "est":
            return self._estimator(v, path, depth)
        if tag == "tree":
            return self._tree(v, path)
        if tag == "scalar":
            dt = self._dtype(v.get("dtype"), path, kinds="biuf")
            value = v.get("v")
            if type(value) not in (bool, int, float):
                raise _Bad(f"{_where(path)}: a scalar needs a number")
            try:
                return dt.type(value)
            except (OverflowError, ValueError, TypeError) as exc:
                raise _Bad(f"{_where(path)}: {exc}") from None
        if tag == "array":
            dt = self._dtype(v.get("dtype"), path, kinds="biufU")
            shape = self._shape(v.get("shape"), path)
            flat = v.get("v")
            if type(flat) is not list or len(flat) != math.prod(shape) \
                    or len(flat) > _INLINE_MAX:
                raise _Bad(f"{_where(path)}: array items do not match its shape")
            ok = (str,) if dt.kind == "U" else (bool, int, float)
            if not all(type(x) in ok for x in flat):
                raise _Bad(f"{_where(path)}: array items of the wrong type")
            try:
                return np.array(flat, dtype=dt).reshape(shape)
            except (OverflowError, ValueError, TypeError) as exc:
                raise _Bad(f"{_where(path)}: {exc}") from None
        if tag == "tuple":
            items = v.get("v")
            if type(items) is not list:
                raise _Bad(f"{_where(path)}: a tuple needs a list of items")
            return tuple(self.dec(x, (path, i), depth + 1) for i, x in enumerate(items))
        if tag == "dict":
            pairs = v.get("v")
            if type(pairs) is not list \
                    or not all(type(p) is list and len(p) == 2 for p in pairs):
                raise _Bad(f"{_where(path)}: a dict needs a list of [key, value] pairs")
            out = {}
            for k, x in pairs:
                key = self.dec(k, (path, None), depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise _Bad(f"{_where(path)} has an unhashable key") from None
                out[key] = self.dec(x, (path, [key]), depth + 1)
            return out
        if tag == "strs":
            shape = self._shape(v.get("shape"), path)
            flat = v.get("v")
            if type(flat) is not list or not all(type(x) is str for x in flat) \
                    or len(flat) != math.prod(shape):
                raise _Bad(f"{_where(path)}: a string array needs {shape} strings")
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            return out.reshape(shape)
        if tag == "npy":
            name = v.get("name")
            if type(name) is not str or re.fullmatch(r"a[0-9]{1,9}", name) is None:
                raise _Bad(f"{_where(path)}: bad array member name")
            a = self._member_array(name)
            if a.dtype.kind not in "biufU" or a.dtype.fields is not None \
                    or _DTYPE_RE.fullmatch(a.dtype.str) is None:
                raise _Bad(f"{_where(path)}: array of dtype {a.dtype} is not allowed")
            return a
        if tag is None:
            raise _Bad(f"{_where(path)} is not a value of this format")
        raise _Bad(f"{_where(path)} has an unknown tag {str(tag)[:100]!r}")

    @staticmethod
    def _dtype(text: Any, path: Any, kinds: str) -> np.dtype:
        if type(text) is not str or _DTYPE_RE.fullmatch(text) is None:
            raise _Bad(f"{_where(path)}: dtype {str(text)[:100]!r} is not allowed")
        dt = np.dtype(text)
        if dt.kind not in kinds:
            raise _Bad(f"{_where(path)}: dtype {text!r} is not allowed here")
        return dt

    @staticmethod
    def _shape(shape: Any, path: Any) -> tuple[int, ...]:
        if type(shape) is not list or len(shape) > 32 \
                or not all(_is_int(n) and 0 <= n < 2**40 for n in shape):
            raise _Bad(f"{_where(path)}: bad shape")
        return tuple(shape)

    def _estimator(self, v: dict, path: Any, depth: int) -> Any:
        name = v.get("class")
        cls = allowed().get(name) if type(name) is str else None
        if cls is None:
            raise InvalidInputError(
                f"Refused to load this model: its sklearn-trees file names the class "
                f"{str(name)[:200]!r} (at {_where(path)}), which is not one this format "
                f"rebuilds ({', '.join(allowed())}). Nothing was loaded.")
        state = v.get("state")
        if type(state) is not dict:
            raise _Bad(f"{_where(path)}: an estimator needs a state dict")
        out = {}
        plain = _PLAIN
        for key, value in state.items():
            if key.startswith("__"):
                raise _Bad(f"{_where(path)} sets {key[:100]!r}")
            # (most attributes are plain values: skip the call)
            out[key] = value if type(value) in plain else self.dec(value, (path, key), depth + 1)
        n_in = out.get("n_features_in_")
        if n_in is not None or "tree_" in out or "estimators_" in out:
            # sklearn checks X's width against n_features_in_ only if it is set, and the
            # trees index X's columns without bounds checks: a fitted model must have it.
            if not (_is_int(n_in) or isinstance(n_in, np.integer)):
                raise _Bad(f"{_where(path)}.n_features_in_ is missing or not an integer")
            self.n_features.add(int(n_in))
        if not self.build:
            return None
        obj = cls.__new__(cls)
        obj.__setstate__(out)
        return obj

    def _tree(self, v: dict, path: Any) -> Any:
        n_features, n_outputs = v.get("n_features"), v.get("n_outputs")
        n_classes, count, max_depth = v.get("n_classes"), v.get("node_count"), v.get("max_depth")
        where = _where
        if not (_is_int(n_features) and 1 <= n_features < 2**31):
            raise _Bad(f"{where(path)}: bad n_features")
        if not (_is_int(n_outputs) and 1 <= n_outputs < 2**20):
            raise _Bad(f"{where(path)}: bad n_outputs")
        if not (type(n_classes) is list and len(n_classes) == n_outputs
                and all(_is_int(c) and 1 <= c < 2**31 for c in n_classes)):
            raise _Bad(f"{where(path)}: n_classes must list one positive count per output")
        if not (_is_int(count) and 1 <= count):
            raise _Bad(f"{where(path)}: bad node_count")
        if not (_is_int(max_depth) and 0 <= max_depth < count):
            raise _Bad(f"{where(path)}: bad max_depth")
        width = max(n_classes)
        n_values = count * n_outputs * width
        start, vstart = self.node_pos, self.value_pos
        if start + count > len(self.nodes) or vstart + n_values > len(self.values):
            raise _Bad(f"{where(path)}: the tree runs past the end of the node or value array")
        self.node_pos += count
        self.value_pos += n_values
        self.trees.append((start, count, n_features))
        self.n_features.add(n_features)
        if not self.build:
            return None
        tree = self.tree_cls(n_features, np.asarray(n_classes, dtype=np.intp), n_outputs)
        tree.__setstate__({
            "max_depth": max_depth, "node_count": count,
            "nodes": self.nodes[start:start + count],
            "values": self.values[vstart:vstart + n_values].reshape(count, n_outputs, width)})
        return tree

    def check_trees(self) -> None:
        """Every array row belongs to exactly one tree, and every tree is well formed.

        Called before any tree is used (``loads`` returns only after it passed); the checks
        are what keeps sklearn's unchecked Cython traversal inside its arrays.
        """
        if self.node_pos != len(self.nodes) or self.value_pos != len(self.values):
            raise _Bad("the node or value array holds rows no tree uses")
        _check_trees(self.nodes, self.trees, self.n_features)


def _check_trees(nodes: np.ndarray, trees: list[tuple[int, int, int]],
                 n_features: set[int]) -> None:
    """One feature count throughout; children point forward inside their own tree; splits
    use existing features. ``trees`` are ``(first row, node count, n_features)``, in order,
    covering ``nodes`` exactly."""
    if sum(t[1] for t in trees) != len(nodes):
        raise _Bad("the node array holds rows no tree uses")
    if len(n_features) > 1:
        raise _Bad(f"the model's parts disagree on the number of features: "
                   f"{sorted(n_features)}")
    if not trees:
        return
    starts = np.array([t[0] for t in trees], dtype=np.int64)
    counts = np.array([t[1] for t in trees], dtype=np.int64)
    n_feat = np.array([t[2] for t in trees], dtype=np.int64)
    local = np.arange(len(nodes), dtype=np.int64) - np.repeat(starts, counts)
    size = np.repeat(counts, counts)
    left = nodes["left_child"].astype(np.int64)
    right = nodes["right_child"].astype(np.int64)
    feature = nodes["feature"].astype(np.int64)
    leaf = left == _TREE_LEAF
    if not np.array_equal(leaf, right == _TREE_LEAF):
        raise _Bad("a tree node has exactly one child")
    split = ~leaf
    if not np.all((left[split] > local[split]) & (left[split] < size[split])
                  & (right[split] > local[split]) & (right[split] < size[split])):
        raise _Bad("a tree node's child lies outside its tree or before it")
    if not np.all((feature[split] >= 0)
                  & (feature[split] < np.repeat(n_feat, counts)[split])):
        raise _Bad("a tree node splits on a feature the model does not have")


def _open(data: bytes):
    from jupyter_mlops.archive_limits import check_zip

    # Before NumPy inflates anything: a crafted member could deflate 1000:1.
    check_zip(data, "sklearn-trees model file", json_members=(HEADER,))
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any failure to open is a bad file
        raise InvalidInputError(f"This is not a readable sklearn-trees model file: {exc}.") \
            from None
    if not hasattr(npz, "zip"):
        raise InvalidInputError("This is not a readable sklearn-trees model file: not a zip.")
    return npz


def _read(data: bytes, build: bool) -> tuple[str, Any]:
    npz = _open(data)
    try:
        try:
            if HEADER not in npz.zip.namelist():
                raise _Bad(f"the file has no {HEADER}")
            header = json.loads(npz.zip.read(HEADER))
            if type(header) is not dict or header.get("format") != FORMAT:
                raise _Bad(f"{HEADER} is not a {FORMAT} header")
            if header.get("version") != FORMAT_VERSION:
                raise _Bad(f"format version {str(header.get('version'))[:20]} is not one "
                           f"this version of jupyter_mlops reads ({FORMAT_VERSION})")
            root = header.get("root")
            if type(root) is not dict or root.get("$t") != "est":
                raise _Bad("the file's root is not an estimator")
            name = root.get("class")
            cls = allowed().get(name) if type(name) is str else None
            reader = _Reader(npz, build, str(header.get("sklearn")))
            model = reader.dec(root, "model")
            reader.check_trees()
        except InvalidInputError:
            raise
        except _Bad as exc:
            raise InvalidInputError(
                f"This is not a valid sklearn-trees model file: {exc}. Nothing was loaded.") \
                from None
        except Exception as exc:  # noqa: BLE001 - crafted/damaged: json, zip, npy, sklearn
            raise InvalidInputError(
                f"This is not a valid sklearn-trees model file: {type(exc).__name__}: {exc}. "
                "Nothing was loaded.") from None
    finally:
        npz.close()
    return class_path(cls), model


def loads(data: bytes) -> Any:
    """Rebuild the model; :class:`InvalidInputError` for anything crafted or damaged."""
    return _read(data, build=True)[1]


def inspect(data: bytes) -> str:
    """Check the whole file without building anything; returns the model's class path."""
    return _read(data, build=False)[0]
