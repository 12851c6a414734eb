"""What LightGBM's text-model loader takes on trust, checked before it reads a model.

LightGBM's parser (``GBDT::LoadModelFromString`` and ``Tree::Tree(const char*)``, LightGBM
4.x) checks little: it sizes each tree's arrays from ``num_leaves``/``num_cat`` without
comparing them with the values written, jumps to each tree by the byte offsets in
``tree_sizes``, divides by ``num_tree_per_iteration`` and, at prediction, follows child and
category indices and reads ``feature_values[split_feature]`` unchecked. Changing ``num_cat=0``
to ``num_cat=5`` in one tree of a real model aborted the Python process. A registered file is
untrusted input, so before LightGBM sees one it is held to exactly what LightGBM writes
(``GBDT::SaveModelToString``, ``Tree::ToString``; Python appends ``pandas_categorical:``):

* UTF-8 text, ``\\n`` line ends, no control characters (the C API stops at a NUL byte);
* the header lines in the writer's order, each once; ``version`` v3 or v4 (same layout);
  ``num_class`` = ``num_tree_per_iteration`` >= 1 (it divides by it; the output buffer is
  ``num_class`` wide), a multiclass ``objective`` naming the same ``num_class`` (its
  ``ConvertOutput`` writes that many outputs), one of LightGBM's objective strings;
  ``feature_names``/``feature_infos``/``monotone_constraints`` one entry per feature;
* ``tree_sizes`` the byte length of each ``Tree=i`` block, as many trees as a whole number of
  iterations; each block the writer's keys in its order (the reader takes at most 22 lines
  and scans for ``=`` without a bound);
* in each tree: ``num_leaves`` 1 … 131,072 (LightGBM's own limit) and every array exactly as
  long as it implies; children that form one tree rooted at node 0 (each inner node the child
  of exactly one earlier node — LightGBM numbers nodes in split order — each leaf ``~i``
  reached once; so prediction cannot loop or index outside), depth at most
  :data:`MAX_DEPTH`; ``split_feature`` and linear ``leaf_features`` below the number of
  features; ``decision_type`` bits LightGBM sets, ``num_cat`` categorical nodes whose
  thresholds are ``0 … num_cat-1`` once each; ``cat_boundaries`` rising from 0 to the length
  of ``cat_threshold``; a LightGBM error inside its tree parser aborts the process (it
  throws inside an OpenMP loop), so every field is present and parses;
* after ``end of trees``: feature importances, named features and only when there are trees
  (with none, LightGBM reads the whole file as its header: a ``num_tree_per_iteration=0``
  line there divided by zero), ``parameters:`` lines of the form
  ``[name: value]`` (LightGBM indexes the part after the colon unchecked), the pandas
  categories as JSON lists. A ``parser:`` section (a custom-parser config LightGBM writes
  only when ``parser_config_file`` was set) is not checked here, so it is refused.
"""

from __future__ import annotations

import json
import re

from jupyter_mlops.errors import InvalidInputError

#: LightGBM refuses ``num_leaves`` above this when training (``config_auto.cpp``).
MAX_LEAVES = 131_072
#: ``predict(pred_contrib=True)`` (SHAP values) recurses once per level and allocates
#: depth²/2 path entries per thread: a crafted chain 60,000 deep aborted the process
#: (bad_alloc), one 131,071 deep overflowed the stack. Real trees are far shallower (a
#: balanced 131,072-leaf tree is 17 deep); 2,000 levels cost at most ~64 MB per thread.
MAX_DEPTH = 2_000
#: Predictions are num_class wide; with trees, their count bounds it, without, this does.
MAX_CLASSES = 100_000
_INT32 = 2**31 - 1

_F = r"-?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+][0-9]+)?|inf|nan)"  # fmt's {:g}/{:.17g}, stream's <<
_I = r"-?[0-9]{1,10}"
_FLOATS = re.compile(rf"(?:{_F}(?: {_F})*)?")
_INTS = re.compile(rf"(?:{_I}(?: {_I})*)?")
_SIZES = re.compile(r"(?:[0-9]{1,10}(?: [0-9]{1,10})*)?")
_FLOAT = re.compile(_F)
_INT = re.compile(_I)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_FEATURE_INFO = re.compile(r"none|\[[^ \[\]:]+:[^ \[\]:]+\]|-?[0-9]{1,10}(?::-?[0-9]{1,10})*")
_PARAMETER = re.compile(r"\[[A-Za-z0-9_]+: [^\n]*\]")
_IMPORTANCE = re.compile(r"[^\n]+=[0-9]{1,20}")
_OBJECTIVE = re.compile(
    r"(?:regression|regression_l1|quantile|huber|fair|poisson|mape|gamma|tweedie)(?: sqrt)?"
    r"|binary sigmoid:" + _F + r"|lambdarank|rank_xendcg|cross_entropy"
    r"|cross_entropy_lambda|multiclass num_class:(?P<k>[0-9]{1,10})"
    r"|multiclassova num_class:(?P<ova>[0-9]{1,10}) sigmoid:" + _F)
_HEADER = ("version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx",
           "objective", "average_output", "feature_names", "monotone_constraints",
           "feature_infos", "tree_sizes")
_OPTIONAL = {"objective", "average_output", "monotone_constraints"}
_TREE = ("num_leaves", "num_cat", "split_feature", "split_gain", "threshold", "decision_type",
         "left_child", "right_child", "leaf_value", "leaf_weight", "leaf_count",
         "internal_value", "internal_weight", "internal_count")
_LINEAR = ("leaf_const", "num_features", "leaf_features", "leaf_coeff")


class _Refused(Exception):
    pass


def check_model(native: bytes) -> None:
    """Raise :class:`InvalidInputError` unless ``native`` is a LightGBM text model as LightGBM
    writes it, every index inside its array (see the module doc)."""
    try:
        _check(native)
    except _Refused as exc:
        raise InvalidInputError(f"This is not a readable lightgbm model file: {exc}.") from None


def _check(native: bytes) -> None:
    try:
        text = native.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("it is not UTF-8 text") from None
    if _CONTROL.search(text):
        raise _Refused("a control character (a NUL, CR or tab) in the text")
    head_end = text.find("\n\n")
    if not text.startswith("tree\n") or head_end < 0:
        raise _Refused("it does not start with LightGBM's 'tree' line and a header")
    header = _header(text[5:head_end].split("\n"))
    start = head_end + 2
    sizes = header["tree_sizes"]
    end = start + sum(sizes)
    # tree_sizes count bytes, Python slices characters: the same only in ASCII.
    if not text.startswith("end of trees\n", end) or not text[start:end].isascii():
        raise _Refused("tree_sizes do not add up to the trees that follow")
    trees = []
    for i, size in enumerate(sizes):
        try:
            trees.append(_tree_lines(text[start:start + size], i))
        except _Refused as exc:
            raise _Refused(f"tree {i}: {exc}") from None
        start += size
    if trees:
        _Trees(trees, header["n_features"]).check()
    _check_tail(text[end + len("end of trees\n"):].split("\n"), header)


def _int(value: str, what: str, lo: int = 0, hi: int = _INT32) -> int:
    if not _INT.fullmatch(value) or not lo <= int(value) <= hi:
        raise _Refused(f"{what} is not a whole number {lo} … {hi}")
    return int(value)


def _header(lines: list[str]) -> dict:
    fields: dict = {}
    at = 0  # the next of _HEADER: the writer's order, each once, the optional ones may be absent
    for line in lines:
        key, eq, value = line.partition("=")
        while at < len(_HEADER) and key != _HEADER[at] and _HEADER[at] in _OPTIONAL:
            at += 1
        if at == len(_HEADER) or key != _HEADER[at] or (eq == "") != (key == "average_output"):
            raise _Refused(f"header line {line[:40]!r} is not one LightGBM writes there")
        fields[key] = value
        at += 1
    if at != len(_HEADER):
        raise _Refused("the header ends early")
    if fields["version"] not in ("v3", "v4"):
        raise _Refused(f"version {fields['version'][:20]!r}, not v3 or v4")
    num_class = _int(fields["num_class"], "num_class", 1, MAX_CLASSES)
    if _int(fields["num_tree_per_iteration"], "num_tree_per_iteration", 1) != num_class:
        raise _Refused("num_tree_per_iteration is not num_class")
    _int(fields["label_index"], "label_index", -_INT32)
    n_features = _int(fields["max_feature_idx"], "max_feature_idx", 0, _INT32 - 1) + 1
    if "objective" in fields:
        match = _OBJECTIVE.fullmatch(fields["objective"])
        if match is None:
            raise _Refused(f"objective {fields['objective'][:40]!r} is not one LightGBM writes")
        k = match["k"] or match["ova"]
        if (int(k) if k else 1) != num_class or (k is not None and num_class < 2):
            raise _Refused(f"objective {fields['objective'][:40]!r} with num_class={num_class}")
    names = fields["feature_names"].split(" ")
    if len(names) != n_features or "" in names:
        raise _Refused(f"feature_names does not name {n_features} features")
    infos = fields["feature_infos"].split(" ")
    if len(infos) != n_features or not all(_FEATURE_INFO.fullmatch(i) for i in infos):
        raise _Refused(f"feature_infos is not {n_features} feature ranges")
    if "monotone_constraints" in fields:
        signs = fields["monotone_constraints"].split(" ")
        if len(signs) != n_features or not set(signs) <= {"-1", "0", "1"}:
            raise _Refused(f"monotone_constraints is not {n_features} of -1, 0, 1")
    if not _SIZES.fullmatch(fields["tree_sizes"]):
        raise _Refused("tree_sizes is not a list of byte counts")
    sizes = [int(s) for s in fields["tree_sizes"].split(" ") if s]
    if len(sizes) % num_class:
        raise _Refused(f"{len(sizes)} trees is not a whole number of iterations of "
                       f"{num_class}")
    return {"tree_sizes": sizes, "n_features": n_features, "names": set(names)}


def _tree_lines(block: str, i: int) -> dict:
    """One ``Tree=i`` block's ``key=value`` lines, the writer's keys in its order."""
    prefix = f"Tree={i}\n"
    if not block.startswith(prefix) or not block.endswith("\n\n\n"):
        raise _Refused(f"its block does not start with {prefix!r} and end with a blank line "
                       "(tree_sizes do not match the trees)")
    pairs = [line.partition("=") for line in block[len(prefix):-3].split("\n")]
    values = {key: value for key, _, value in pairs}
    n = values["n"] = _int(values.get("num_leaves", ""), "num_leaves", 1, MAX_LEAVES)
    num_cat = values["c"] = _int(values.get("num_cat", ""), "num_cat", 0, n - 1)
    linear = values.get("is_linear") == "1"
    keys = (_TREE + (("cat_boundaries", "cat_threshold") if num_cat else ())
            + ("is_linear",) + (_LINEAR if linear else ()) + ("shrinkage",))
    if [key for key, _, _ in pairs] != list(keys) or any(eq != "=" for _, eq, _ in pairs):
        raise _Refused("its lines are not the keys LightGBM writes, in its order")
    if values["is_linear"] not in ("0", "1") or not _FLOAT.fullmatch(values["shrinkage"]):
        raise _Refused("is_linear or shrinkage is not a number")
    return values


class _Trees:
    """All trees' arrays at once: each key's values joined and parsed in one go (a model has
    hundreds of small trees), nodes numbered across trees, the tree named on a refusal."""

    def __init__(self, trees: list[dict], n_features: int):
        import numpy as np

        self.trees, self.n_features = trees, n_features
        self.n = np.array([t["n"] for t in trees], dtype=np.int64)  # leaves per tree
        self.m = self.n - 1  # inner nodes per tree

    def check(self) -> None:
        import numpy as np

        n, m, everything = self.n, self.m, np.arange(len(self.trees))
        for key, counts in (("split_gain", m), ("threshold", m), ("leaf_value", n),
                            ("internal_value", m), ("internal_weight", m)):
            self.floats(key, counts, everything)
        # A one-leaf tree LightGBM read back (its reader stops before leaf_weight) and wrote
        # again has an empty leaf_weight.
        self.floats("leaf_weight", np.where(
            (n == 1) & np.array([not t["leaf_weight"] for t in self.trees]), 0, n), everything)
        self.ints("leaf_count", n, everything, 0, _INT32)
        self.ints("internal_count", m, everything, 0, _INT32)
        self.nodes()
        linear = np.flatnonzero([t["is_linear"] == "1" for t in self.trees])
        if len(linear):
            self.linear(linear)

    def refuse(self, tree: int, what: str):
        raise _Refused(f"tree {int(tree)}: {what}")

    def column(self, key: str, counts, which, pattern: re.Pattern, what: str) -> str:
        """The values of ``key`` in trees ``which`` joined by spaces, each checked to hold
        ``counts`` numbers matching ``pattern``."""
        import numpy as np

        values = [self.trees[i][key] for i in which]
        got = np.array([v.count(" ") + 1 if v else 0 for v in values], dtype=np.int64)
        joined = " ".join(v for v in values if v)
        if not pattern.fullmatch(joined) or np.any(got != counts):
            for i, value, count in zip(which, values, counts):  # which tree, for the message
                if not pattern.fullmatch(value) or (value.count(" ") + 1 if value else 0) != count:
                    self.refuse(i, f"{key} is not {count} {what}")
        return joined

    def floats(self, key: str, counts, which) -> None:
        self.column(key, counts, which, _FLOATS, "numbers")

    def ints(self, key: str, counts, which, lo, hi):
        """The values as one int64 array, each ``lo`` … ``hi`` (numbers or, per value, arrays
        as long as ``which``)."""
        import numpy as np

        joined = self.column(key, counts, which, _INTS, "whole numbers")
        array = np.array(joined.split(" ") if joined else [], dtype=np.int64)
        lo, hi = (np.repeat(np.broadcast_to(b, len(which)), counts) for b in (lo, hi))
        bad = np.flatnonzero((array < lo) | (array > hi))
        if len(bad):
            tree = np.repeat(which, counts)[bad[0]]
            self.refuse(tree, f"{key} holds {int(array[bad[0]])}, outside "
                              f"{int(lo[bad[0]])} … {int(hi[bad[0]])}")
        return array

    def nodes(self) -> None:
        import numpy as np

        n, m, trees = self.n, self.m, np.arange(len(self.trees))
        self.ints("split_feature", m, trees, 0, self.n_features - 1)  # feature_values[it]
        kinds = self.ints("decision_type", m, trees, 0, 15)
        tree_of = np.repeat(trees, m)  # inner nodes numbered across trees
        first = np.cumsum(m) - m  # each tree's root
        if np.any((kinds >> 2) == 3):
            self.refuse(tree_of[np.argmax((kinds >> 2) == 3)],
                        "decision_type has a missing-value type LightGBM does not write")
        children = np.concatenate([self.ints(side, m, trees, -n, m - 1)
                                   for side in ("left_child", "right_child")])
        owner = np.concatenate([tree_of, tree_of])
        parent = np.concatenate([np.arange(len(tree_of))] * 2)  # numbered across trees
        inner = children >= 0
        child = children + first[owner]  # an inner child, numbered across trees
        # Each inner node but the root is the child of exactly one earlier node (LightGBM
        # numbers nodes in split order) and each leaf ~i is reached once: one tree rooted
        # at node 0, walked without loops and without leaving its arrays.
        bad = inner & (child <= parent)
        if np.any(bad):
            self.refuse(owner[np.argmax(bad)], "a child index that is not a later inner "
                                               "node (a loop, or back to the root)")
        once = np.bincount(child[inner], minlength=len(tree_of))
        once[first[m > 0]] += 1  # the roots
        leaf_first = np.cumsum(n) - n
        leaves = np.bincount((~children + leaf_first[owner])[~inner], minlength=int(n.sum()))
        reached = np.repeat(m > 0, n)  # a one-leaf tree has no children
        if np.any(once != 1) or np.any(leaves != reached):
            tree = (tree_of[np.argmax(once != 1)] if np.any(once != 1)
                    else np.repeat(trees, n)[np.argmax(leaves != reached)])
            self.refuse(tree, "a node or leaf that is not the child of exactly one node")
        up = np.arange(len(tree_of))
        up[child[inner]] = parent[inner]
        depth = (up != np.arange(len(up))).astype(np.int64)
        while np.any(depth[up]):  # pointer jumping: log2(depth) rounds
            depth, up = depth + depth[up], up[up]
        if len(depth) and depth.max() + 1 > MAX_DEPTH:
            self.refuse(tree_of[np.argmax(depth)], f"it is deeper than {MAX_DEPTH} levels")
        categorical = np.bincount(tree_of, weights=kinds & 1, minlength=len(trees))
        num_cat = np.array([t["c"] for t in self.trees])
        if np.any(categorical != num_cat):
            tree = int(np.argmax(categorical != num_cat))
            self.refuse(tree, f"num_cat={num_cat[tree]} but {int(categorical[tree])} "
                              "categorical splits")
        for tree in np.flatnonzero(num_cat):
            try:
                _check_categories(self.trees[tree], kinds[first[tree]:first[tree] + m[tree]] & 1)
            except _Refused as exc:
                self.refuse(tree, str(exc))

    def linear(self, which) -> None:
        """Linear trees: per leaf, num_features features (each a column: prediction reads
        feature_values[it]) and as many coefficients."""
        import numpy as np

        per_leaf = self.ints("num_features", self.n[which], which, 0, self.n_features)
        self.floats("leaf_const", self.n[which], which)
        totals = np.add.reduceat(per_leaf, np.cumsum(self.n[which]) - self.n[which])
        for key in ("leaf_features", "leaf_coeff"):  # the writer pads with extra spaces
            for i in which:
                self.trees[i][key] = " ".join(t for t in self.trees[i][key].split(" ") if t)
        self.ints("leaf_features", totals, which, 0, self.n_features - 1)
        self.floats("leaf_coeff", totals, which)


def _check_categories(values: dict, categorical) -> None:
    import numpy as np

    num_cat = values["c"]
    tokens = values["threshold"].split(" ")
    if sorted(_int(tokens[j], "a categorical split's threshold", 0, num_cat - 1)
              for j in np.flatnonzero(categorical)) != list(range(num_cat)):
        raise _Refused("categorical splits' thresholds are not 0 … num_cat-1, once each")
    bounds = _int_list(values["cat_boundaries"], "cat_boundaries", num_cat + 1)
    if bounds[0] != 0 or np.any(np.diff(bounds) < 0):
        raise _Refused("cat_boundaries do not rise from 0")
    words = _int_list(values["cat_threshold"], "cat_threshold", int(bounds[-1]))
    if len(words) and (words.min() < 0 or words.max() > 2**32 - 1):
        raise _Refused("cat_threshold holds a value outside 32 bits")


def _int_list(value: str, what: str, count: int):
    import numpy as np

    if not _INTS.fullmatch(value) or (value.count(" ") + 1 if value else 0) != count:
        raise _Refused(f"{what} is not {count} whole numbers")
    return np.array(value.split(" ") if value else [], dtype=np.int64)


def _check_tail(lines: list[str], header: dict) -> None:
    """Feature importances, then optionally the parameters and pandas' categories."""
    if lines[:2] != ["", "feature_importances:"]:
        raise _Refused("no feature_importances after 'end of trees'")
    at = 2
    while at < len(lines) and _IMPORTANCE.fullmatch(lines[at]):
        # Without trees LightGBM reads the whole file as its header: 'num_class=0' here would
        # count. It writes importances only for features the trees use.
        if not header["tree_sizes"] or lines[at].rpartition("=")[0] not in header["names"]:
            raise _Refused(f"feature importance {lines[at][:40]!r} for no feature in a tree")
        at += 1
    if lines[at:at + 2] == ["", "parameters:"]:
        at += 2
        while at < len(lines) and lines[at] != "end of parameters":
            if lines[at] and not _PARAMETER.fullmatch(lines[at]):
                raise _Refused(f"parameter line {lines[at][:40]!r} is not '[name: value]'")
            at += 1
        if at == len(lines):
            raise _Refused("the parameters do not end with 'end of parameters'")
        at += 1
    if at < len(lines) - 1 and lines[at] == "" and \
            lines[at + 1].startswith("pandas_categorical:"):
        _check_pandas(lines[at + 1][len("pandas_categorical:"):])
        at += 2
    if lines[at:] != [""]:
        raise _Refused(f"unexpected text after the trees: {lines[at][:40]!r}" if at < len(lines)
                       else "the file does not end with a line break")


def _check_pandas(value: str) -> None:
    try:
        categories = json.loads(value)
    except (ValueError, RecursionError):
        raise _Refused("pandas_categorical is not JSON") from None
    if categories is not None and not (
            isinstance(categories, list) and all(
                isinstance(c, list) and not any(isinstance(v, (list, dict)) for v in c)
                for c in categories)):
        raise _Refused("pandas_categorical is not a list of category lists")
