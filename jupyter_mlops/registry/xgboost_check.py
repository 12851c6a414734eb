"""What XGBoost's model loader takes on trust, checked before it reads a model.

XGBoost checks the *sizes* of a model's arrays when it loads one, not the indices in them: a
tree whose ``parents`` or ``left_children`` name a node past the end, two trees with the same
``id``, a ``tree_info`` group past the number of outputs or a category offset past its column
make it read or write outside its buffers — one changed byte in a real model crashed the
process in our fuzzing. A registered file is untrusted input, so before XGBoost sees one, its
document (from Python's ``json`` or :mod:`.ubjson`) is held to what XGBoost itself writes:

* ``learner_model_param``: ``num_feature``, ``num_class``, ``num_target`` whole numbers;
* ``gbtree`` (and ``dart``'s inner ``gbtree``): ``num_trees`` trees whose ``id`` are 0 … n-1
  once each, ``tree_info`` groups below the number of outputs, ``iteration_indptr`` rising
  from 0 to ``num_trees``; ``dart`` one ``weight_drop`` per tree; ``gblinear``
  ``(num_feature + 1) × outputs`` weights;
* each tree: every array ``num_nodes`` long; children -1 (a leaf, both) or another node, each
  node the child of at most one node and never the root, and the ``parent`` of each child its
  parent; every ``parent`` but the root's a node; split features below ``num_feature``;
  ``categories_nodes`` exactly the nodes whose ``split_type`` is categorical, their segments
  inside ``categories``, categories below 2**24;
* ``cats`` (XGBoost 3's category encoding): offsets and segments inside their arrays, each
  sorted index inside its feature's categories.

Multi-target trees (``size_leaf_vector`` > 1, XGBoost's experimental
``multi_strategy="multi_output_tree"``) have another layout that is not checked here, so they
are refused.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.errors import InvalidInputError

INT32_MAX = 2**31 - 1
#: XGBoost writes the root's parent as int32 max (its "no node" with the left-child bit off).
_ROOT_PARENTS = (-1, INT32_MAX)
#: Categories are small codes; a larger one would make XGBoost allocate a bit field that big.
MAX_CATEGORY = 2**24


class _Refused(Exception):
    pass


def check_model(document: Any) -> None:
    """Raise :class:`InvalidInputError` unless ``document`` is an XGBoost model whose indices
    all stay inside their arrays (see the module doc)."""
    try:
        _check_learner(_get(document, "learner", dict))
    except _Refused as exc:
        raise InvalidInputError(f"This is not a readable xgboost model file: {exc}.") from None


def _get(obj: Any, key: str, kind: type | tuple) -> Any:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), kind):
        noun = "object" if kind is dict else "number" if kind is int else "array"
        raise _Refused(f"no {key!r} {noun}")
    return obj[key]


def _whole(value: Any, what: str, hi: int = INT32_MAX) -> int:
    """A whole number 0 … ``hi``, written as a number or as text (XGBoost's params)."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= hi:
        raise _Refused(f"{what} is not a whole number up to {hi}")
    return value


def _ints(value: Any, what: str, n: int | None = None):
    """An array of integers (a list from JSON, a typed array from UBJSON) as int64."""
    import numpy as np

    if isinstance(value, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise _Refused(f"{what} holds something other than integers")
        try:
            array = np.asarray(value, dtype=np.int64) if value else np.zeros(0, np.int64)
        except OverflowError:
            raise _Refused(f"{what} holds an integer out of range") from None
    elif isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        if value.dtype == np.dtype(">u8") or value.dtype == np.uint64:
            raise _Refused(f"{what} is unsigned 64-bit")
        array = value.astype(np.int64)
    else:
        raise _Refused(f"{what} is not an array of integers")
    if n is not None and len(array) != n:
        raise _Refused(f"{what} has {len(array)} entries, not {n}")
    return array


def _check_learner(learner: dict) -> None:
    params = _get(learner, "learner_model_param", dict)
    num_feature = _whole(params.get("num_feature"), "num_feature")
    outputs = max(_whole(params.get("num_class", "0"), "num_class"),
                  _whole(params.get("num_target", "1"), "num_target"), 1)
    booster = _get(learner, "gradient_booster", dict)
    name = booster.get("name")
    if name == "gbtree":
        _check_gbtree(_get(booster, "model", dict), num_feature, outputs)
    elif name == "dart":
        inner = _get(booster, "gbtree", dict)
        if inner.get("name") != "gbtree":
            raise _Refused("dart's inner booster is not gbtree")
        num_trees = _check_gbtree(_get(inner, "model", dict), num_feature, outputs)
        drops = _get(booster, "weight_drop", (list,) + _array_types())
        if len(drops) != num_trees:
            raise _Refused(f"dart has {len(drops)} weight_drop entries for {num_trees} trees")
    elif name == "gblinear":
        weights = _get(_get(booster, "model", dict), "weights", (list,) + _array_types())
        if len(weights) != (num_feature + 1) * outputs:
            raise _Refused(f"gblinear has {len(weights)} weights, not "
                           f"{(num_feature + 1) * outputs}")
    else:
        raise _Refused(f"unknown booster {str(name)[:40]!r}")


def _array_types() -> tuple:
    import numpy as np

    return (np.ndarray,)


def _check_gbtree(model: dict, num_feature: int, outputs: int) -> int:
    import numpy as np

    num_trees = _whole(_get(model, "gbtree_model_param", dict).get("num_trees"), "num_trees")
    trees = _get(model, "trees", list)
    if len(trees) != num_trees:
        raise _Refused(f"{len(trees)} trees, not num_trees={num_trees}")
    info = _ints(model.get("tree_info"), "tree_info", num_trees)
    if len(info) and not (info.min() >= 0 and info.max() < outputs):
        raise _Refused(f"tree_info names an output group outside 0 … {outputs - 1}")
    ids = sorted(_whole(_get(tree, "id", int), "a tree's id") for tree in trees)
    if ids != list(range(num_trees)):
        raise _Refused("tree ids are not 0 … num_trees-1, each once")
    if "iteration_indptr" in model:
        indptr = _ints(model["iteration_indptr"], "iteration_indptr")
        if (not len(indptr) or indptr[0] != 0 or indptr[-1] != num_trees
                or np.any(np.diff(indptr) < 0)):
            raise _Refused("iteration_indptr does not rise from 0 to num_trees")
    if "cats" in model:
        _check_cats(model["cats"])
    for tree in trees:
        _check_tree(tree, num_feature)
    return num_trees


def _check_tree(tree: dict, num_feature: int) -> None:
    import numpy as np

    param = _get(tree, "tree_param", dict)
    n = _whole(param.get("num_nodes"), "num_nodes")
    if n == 0:
        raise _Refused("a tree has no nodes")
    if _whole(param.get("size_leaf_vector", "1"), "size_leaf_vector") > 1:
        raise _Refused("a multi-target tree (size_leaf_vector > 1), whose layout is not "
                       "checked")
    left = _ints(tree.get("left_children"), "left_children", n)
    right = _ints(tree.get("right_children"), "right_children", n)
    parents = _ints(tree.get("parents"), "parents", n)
    features = _ints(tree.get("split_indices"), "split_indices", n)
    for key in ("loss_changes", "sum_hessian", "base_weights", "split_conditions",
                "default_left"):
        if len(_get(tree, key, (list,) + _array_types())) != n:
            raise _Refused(f"a tree's {key} is not num_nodes long")
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        raise _Refused("a node has one child")
    children = np.concatenate([left[~leaf], right[~leaf]])
    if len(children) and (children.min() < 1 or children.max() >= n):
        raise _Refused("a child index outside the tree (or the root as a child)")
    if len(np.unique(children)) != len(children):
        raise _Refused("a node is the child of two nodes")
    if int(parents[0]) not in _ROOT_PARENTS or np.any((parents[1:] < 0) | (parents[1:] >= n)):
        raise _Refused("a parent index outside the tree")
    inner = np.flatnonzero(~leaf)
    if np.any(parents[left[inner]] != inner) or np.any(parents[right[inner]] != inner):
        raise _Refused("a child whose parent is another node")
    if np.any((features[inner] < 0) | (features[inner] >= num_feature)):
        raise _Refused(f"a split on a feature outside 0 … {num_feature - 1}")
    if "split_type" in tree:
        _check_categorical_splits(tree, n)


def _check_categorical_splits(tree: dict, n: int) -> None:
    import numpy as np

    kinds = _ints(tree.get("split_type"), "split_type", n)
    if np.any((kinds != 0) & (kinds != 1)):
        raise _Refused("split_type is not 0 or 1")
    nodes = _ints(tree.get("categories_nodes"), "categories_nodes")
    if not np.array_equal(nodes, np.flatnonzero(kinds == 1)):
        raise _Refused("categories_nodes are not the nodes whose split_type is categorical")
    segments = _ints(tree.get("categories_segments"), "categories_segments", len(nodes))
    sizes = _ints(tree.get("categories_sizes"), "categories_sizes", len(nodes))
    categories = _ints(tree.get("categories"), "categories")
    if np.any(sizes < 1) or np.any(segments < 0) or np.any(segments + sizes > len(categories)):
        raise _Refused("a categorical split's segment lies outside categories")
    if len(categories) and (categories.min() < 0 or categories.max() >= MAX_CATEGORY):
        raise _Refused(f"a category outside 0 … {MAX_CATEGORY - 1}")


def _check_cats(cats: Any) -> None:
    import numpy as np

    columns = _get(cats, "enc", list)
    sizes = []
    for column in columns:
        if not isinstance(column, dict):
            raise _Refused("a cats column is not an object")
        values = column.get("values")
        if not isinstance(values, (list,) + _array_types()):
            raise _Refused("a cats column has no values")
        if "offsets" in column:  # text categories: values are their bytes
            offsets = _ints(column["offsets"], "cats offsets")
            if len(offsets) and (offsets[0] != 0 or offsets[-1] != len(values)
                                 or np.any(np.diff(offsets) < 0)):
                raise _Refused("cats offsets do not rise from 0 to the values' length")
            if not len(offsets) and len(values):
                raise _Refused("cats text values without offsets")
            sizes.append(max(len(offsets) - 1, 0))
        else:
            _whole(column.get("type"), "a cats column's type", 64)
            sizes.append(len(values))
    segments = _ints(cats.get("feature_segments"), "cats feature_segments")
    expected = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    if len(segments) and (len(segments) != len(expected) or np.any(segments != expected)):
        raise _Refused("cats feature_segments do not match the columns")
    sorted_idx = _ints(cats.get("sorted_idx"), "cats sorted_idx")
    if len(segments) and len(sorted_idx) != expected[-1]:
        raise _Refused("cats sorted_idx is not one entry per category")
    if not len(segments) and (len(sorted_idx) or any(sizes)):
        raise _Refused("cats categories without feature_segments")
    for f, size in enumerate(sizes):
        part = sorted_idx[expected[f]:expected[f + 1]]
        if len(part) and (part.min() < 0 or part.max() >= size):
            raise _Refused("a cats sorted index outside its feature's categories")
