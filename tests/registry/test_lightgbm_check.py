"""LightGBM text models are checked before LightGBM reads them (:mod:`.lightgbm_check`).

Every kind of model LightGBM writes registers, loads and predicts identically; a crafted or
damaged file is refused in one line — never a crash. Changing ``num_cat=0`` to ``num_cat=5``
in one tree of a real model aborted the process before the check (LightGBM throws inside an
OpenMP loop); other fields made it read outside its arrays. Files are loaded in a subprocess
(``helpers/load_lightgbm_files.py``) so that a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import lightgbm_check
from jupyter_mlops.registry.flavors import get_flavor

HELPER = Path(__file__).resolve().parent / "helpers" / "load_lightgbm_files.py"


def fit_models() -> dict:
    """``{kind: (booster, rows to score)}``: each kind of model LightGBM writes."""
    rng = np.random.RandomState(0)
    X = rng.rand(400, 5)
    y = 3 * X[:, 0] + 2 * X[:, 1] + rng.rand(400) * 0.1
    base = {"verbose": -1, "num_leaves": 7, "num_threads": 1}

    def train(rounds=4, data=X, label=y, **params):
        return lgb.train({**base, **params}, lgb.Dataset(data, label), rounds)

    frame = pd.DataFrame({"a": pd.Categorical(rng.choice(list("abcdefghij"), 400)),
                          "b": rng.rand(400), "c": pd.Categorical(rng.choice(list("xyz"), 400))})
    early = lgb.train({**base, "learning_rate": 0.5}, lgb.Dataset(X[:300], y[:300]), 300,
                      valid_sets=[lgb.Dataset(X[300:], y[300:])],
                      callbacks=[lgb.early_stopping(3, verbose=False)])
    assert 0 < early.best_iteration < 300  # stopped early (the model keeps the best trees)
    return {
        "regression": (train(objective="regression"), X),
        "binary": (train(objective="binary", label=(y > 2.5).astype(int)), X),
        "multiclass": (train(3, objective="multiclass", num_class=3,
                             label=np.digitize(y, [2, 3])), X),
        "categorical": (train(5, data=frame, min_data_per_group=5, cat_smooth=1,
                              label=(frame.a.cat.codes % 3 == 0) + frame.b + (frame.c == "x")),
                        frame),
        "linear": (train(3, linear_tree=True), X),
        "early_stopping": (early, X),
        "dart": (train(5, boosting="dart"), X),
        "rf": (train(3, boosting="rf", bagging_freq=1, bagging_fraction=0.7), X),
    }


@pytest.fixture(scope="module")
def models():
    return fit_models()


def text_of(models, kind: str) -> str:
    return models[kind][0].model_to_string()


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass", "categorical", "linear",
                                  "early_stopping", "dart", "rf"])
def test_every_kind_of_model_registers_loads_and_predicts_identically(client, models, kind,
                                                                      no_unpickling):
    booster, X = models[kind]
    text = booster.model_to_string()
    if kind == "categorical":
        assert "\nnum_cat=0\n" not in text.split("Tree=0", 1)[1].split("Tree=1")[0]
    if kind == "linear":
        assert re.search(r"^num_features=.*[1-9]", text, re.M)  # coefficients, not just 0s
    lightgbm_check.check_model(text.encode())
    version = client.registry.register_model(booster, f"m-{kind}")
    again = client.registry.register_file(text.encode(), f"m-{kind}", flavor="lightgbm")
    for v in (version, again):
        loaded = client.registry.load_model(f"models:/m-{kind}/{v.version}").model
        assert isinstance(loaded, lgb.Booster)
        np.testing.assert_array_equal(loaded.predict(X), booster.predict(X))
        # LightGBM's own re-save of a loaded model passes too (one-leaf trees lose leaf_weight).
        lightgbm_check.check_model(loaded.model_to_string().encode())


def run_helper(folder: Path, mode: str = "checked", timeout: float = 300):
    """``(return code, {file: answer line}, stderr)`` of the helper over ``folder``."""
    proc = subprocess.run([sys.executable, str(HELPER), mode, str(folder)],
                          capture_output=True, text=True, timeout=timeout)
    answers = {}
    for line in proc.stdout.splitlines():  # LightGBM prints its warnings there too
        word, _, rest = line.partition(" ")
        if word in ("ok", "refused", "error"):
            name, _, detail = rest.partition(" ")
            answers[name] = (word, detail)
    return proc.returncode, answers, proc.stderr


def write_batch(folder: Path, files: dict[str, str | bytes], models) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        kind = name.split("-")[0]
        rows = models[kind][1]
        rows = rows.apply(lambda c: c.cat.codes if c.dtype.name == "category" else c) \
            if isinstance(rows, pd.DataFrame) else rows
        np.save(folder / f"{kind}.npy", np.asarray(rows[:50], dtype=np.float64))
        (folder / f"{name}.txt").write_bytes(data if isinstance(data, bytes) else data.encode())


def first_tree(text: str, change) -> str:
    """``text`` with ``change`` applied to tree 0's block, tree_sizes kept true (so that the
    damage is inside the tree, not in the offsets)."""
    return with_true_sizes(re.sub(r"Tree=0\n.*?\n\n\n", lambda m: change(m.group(0)), text,
                                  count=1, flags=re.S))


def with_true_sizes(text: str) -> str:
    """``text`` with its header's tree_sizes recomputed from the blocks that follow."""
    head, _, rest = text.partition("\n\n")
    trees, end, tail = rest.partition("end of trees\n")
    if not end:
        return text
    blocks = [b for b in re.split(r"(?=^Tree=)", trees, flags=re.M) if b]
    sizes = [len(b.encode("utf-8", "surrogateescape")) for b in blocks]
    head = re.sub(r"^tree_sizes=.*$", "tree_sizes=" + " ".join(map(str, sizes)), head,
                  count=1, flags=re.M)
    return head + "\n\n" + trees + end + tail


def field(name: str, value) -> Callable:
    """Set ``name=`` in a tree block (a function of the old value, or a value)."""
    def change(block: str) -> str:
        def put(m):
            new = value(m.group(1)) if callable(value) else value
            return f"\n{name}={new}\n"
        return re.sub(rf"\n{name}=([^\n]*)\n", put, block, count=1)
    return change


def header(name: str, value: str) -> Callable:
    return lambda text: re.sub(rf"^{name}=[^\n]*$", f"{name}={value}", text, count=1,
                               flags=re.M)


def tokens(index: int, value) -> Callable:
    def change(old: str) -> str:
        parts = old.split(" ")
        parts[index] = str(value)
        return " ".join(parts)
    return change


def values_of(block: str, name: str) -> list[str]:
    return re.search(rf"\n{name}=([^\n]*)\n", block)[1].split(" ")


def same_child_twice(block: str) -> str:
    """A leaf that is the left child of a node made its right child too."""
    left = values_of(block, "left_child")
    k = next(i for i, v in enumerate(left) if v.startswith("-"))
    return field("right_child", tokens(k, left[k]))(block)


def category_index_7(block: str) -> str:
    """The first categorical split's threshold (its category set's index) set to 7."""
    k = values_of(block, "decision_type").index("1")
    return field("threshold", tokens(k, 7))(block)


def header_after_no_trees(text: str) -> str:
    """No trees, and a 'feature importance' line that LightGBM, finding no 'Tree=' line to
    stop at, reads as a header line: num_tree_per_iteration=0 divided by zero (SIGFPE)."""
    head, _, rest = text.partition("\n\n")
    tail = rest[rest.index("end of trees\n"):].replace(
        "\nfeature_importances:\n", "\nfeature_importances:\nnum_tree_per_iteration=0\n")
    return header("tree_sizes", "")(head) + "\n\n" + tail


def test_a_model_without_trees_passes(models):
    """What an untrained Booster writes (its header read to the end of the file)."""
    booster, X = models["multiclass"]
    untrained = lgb.Booster({"verbose": -1, "objective": "multiclass", "num_class": 3},
                            lgb.Dataset(X, np.arange(len(X)) % 3))
    text = untrained.model_to_string()
    assert "\ntree_sizes=\n" in text
    lightgbm_check.check_model(text.encode())
    assert get_flavor("lightgbm").load(text.encode()).num_trees() == 0


def chain(text: str, leaves: int) -> str:
    """``text`` with its first tree replaced by a chain ``leaves`` deep (each split's left
    child a leaf): a valid tree, deeper than any LightGBM grows."""
    m = leaves - 1
    join = lambda values: " ".join(map(str, values))  # noqa: E731
    lines = {"num_leaves": leaves, "num_cat": 0, "split_feature": join([0] * m),
             "split_gain": join([1] * m), "threshold": join(range(m)),
             "decision_type": join([2] * m), "left_child": join(~i for i in range(m)),
             "right_child": join([*range(1, m), ~m]), "leaf_value": join(range(leaves)),
             "leaf_weight": join([1] * leaves), "leaf_count": join([1] * leaves),
             "internal_value": join([0] * m), "internal_weight": join([1] * m),
             "internal_count": join([1] * m), "is_linear": 0, "shrinkage": 1}
    block = "Tree=0\n" + "".join(f"{k}={v}\n" for k, v in lines.items()) + "\n\n"
    return with_true_sizes(re.sub(r"Tree=0\n.*?\n\n\n", lambda _: block, text, count=1,
                                  flags=re.S))


#: (name, base model, damage, what the refusal says)
CORRUPTIONS = [
    ("num_cat", "regression", lambda t: first_tree(t, field("num_cat", 5)),
     "tree 0: its lines are not the keys LightGBM writes"),
    ("num_cat_plus", "categorical",
     lambda t: first_tree(t, field("num_cat", lambda v: int(v) + 1)),
     "tree 0: (num_cat=|its lines)"),
    ("num_cat_no_splits", "categorical",
     lambda t: first_tree(t, field("decision_type", lambda v: v.replace("1", "0", 1))),
     r"tree 0: num_cat=\d but \d categorical splits"),
    ("left_child_out", "regression", lambda t: first_tree(t, field("left_child", tokens(0, 99))),
     "tree 0: left_child holds 99, outside -7 … 5"),
    ("leaf_out", "regression", lambda t: first_tree(t, field("left_child", tokens(0, -99))),
     "tree 0: left_child holds -99"),
    ("child_loop", "regression", lambda t: first_tree(t, field("left_child", tokens(1, 1))),
     "tree 0: a child index that is not a later inner node"),
    ("leaf_twice", "regression", lambda t: first_tree(t, same_child_twice),
     "tree 0: a node or leaf that is not the child of exactly one node"),
    ("split_feature", "regression", lambda t: first_tree(t, field("split_feature", tokens(0, 5))),
     "tree 0: split_feature holds 5, outside 0 … 4"),
    ("linear_feature", "linear",
     lambda t: re.sub(r"\nleaf_features=(\d+)", "\nleaf_features=9", t, count=1),
     "leaf_features holds 9, outside 0 … 4"),
    ("decision_type", "regression",
     lambda t: first_tree(t, field("decision_type", tokens(0, 12))), "missing-value type"),
    ("num_leaves_huge", "regression", lambda t: first_tree(t, field("num_leaves", 10**9)),
     "tree 0: num_leaves is not a whole number 1 … 131072"),
    ("num_leaves_plus", "regression", lambda t: first_tree(t, field("num_leaves", 8)),
     "tree 0: split_gain is not 7 numbers"),
    ("num_leaves_zero", "regression", lambda t: first_tree(t, field("num_leaves", 0)),
     "num_leaves is not a whole number 1"),
    ("array_short", "regression",
     lambda t: first_tree(t, field("threshold", lambda v: v.rsplit(" ", 1)[0])),
     "tree 0: threshold is not 6 numbers"),
    ("tree_sizes", "regression",
     header("tree_sizes", "1 2 3 4"), "tree_sizes do not add up|block does not start"),
    ("tree_sizes_past_end", "regression", header("tree_sizes", "99999999 1 1 1"),
     "tree_sizes do not add up"),
    ("tree_sizes_shifted", "regression",
     lambda t: header("tree_sizes", " ".join(
         str(int(s) + (1 if i == 0 else -1 if i == 1 else 0)) for i, s in enumerate(
             re.search(r"^tree_sizes=(.*)$", t, re.M)[1].split(" "))))(t),
     "tree 0: its block does not start"),
    ("cat_boundaries_past", "categorical",
     lambda t: first_tree(t, field("cat_boundaries", lambda v: " ".join(
         v.split(" ")[:-1] + [str(int(v.split(" ")[-1]) + 40)]))),
     "cat_threshold is not \\d+ whole numbers"),
    ("cat_boundaries_start", "categorical",
     lambda t: first_tree(t, field("cat_boundaries", tokens(0, 1))),
     "cat_boundaries do not rise from 0"),
    ("cat_index", "categorical", lambda t: first_tree(t, category_index_7),
     "tree 0: a categorical split's threshold is not a whole number 0 … 2"),
    ("num_tree_per_iteration", "regression", header("num_tree_per_iteration", "0"),
     "num_tree_per_iteration is not a whole number 1"),
    ("num_class", "multiclass", header("num_class", "2"),
     "num_tree_per_iteration is not num_class"),
    ("objective_classes", "multiclass",
     lambda t: t.replace("objective=multiclass num_class:3", "objective=multiclass num_class:9"),
     "objective 'multiclass num_class:9' with num_class=3"),
    ("objective_empty", "regression", header("objective", ""), "objective '' is not one"),
    ("trees_not_iterations", "multiclass",
     lambda t: header("tree_sizes", " ".join(
         re.search(r"^tree_sizes=(.*)$", t, re.M)[1].split(" ")[:-1]))(t),
     "8 trees is not a whole number of iterations of 3"),
    ("feature_names", "regression", header("feature_names", "a b c"),
     "feature_names does not name 5 features"),
    ("feature_infos", "regression", header("feature_infos", "none none"),
     "feature_infos is not 5 feature ranges"),
    ("max_feature_idx", "regression", header("max_feature_idx", "2"),
     "feature_names does not name 3 features"),
    ("shrinkage", "regression", lambda t: first_tree(t, field("shrinkage", "x")),
     "shrinkage is not a number"),
    ("line_without_equals", "regression",
     lambda t: first_tree(t, lambda b: b.replace("\nis_linear=0", "\nis_linear0")),
     "its lines are not the keys"),
    ("duplicate_line", "regression",
     lambda t: first_tree(t, lambda b: b.replace("\nshrinkage=", "\nshrinkage=1\nshrinkage=")),
     "its lines are not the keys"),
    ("nul_byte", "regression", lambda t: t.replace("\nshrinkage=1\n", "\nshrinkage=1\0\n", 1),
     "a control character"),
    ("crlf", "regression", lambda t: t.replace("\n", "\r\n"), "a control character"),
    ("parameter_line", "regression", lambda t: t.replace("[boosting: gbdt]", "[boosting gbdt]"),
     "parameter line '\\[boosting gbdt\\]'"),
    ("parser_section", "regression",
     lambda t: t.replace("end of parameters\n",
                         "end of parameters\n\nparser:\n{}\nend of parser\n"),
     "unexpected text after the trees"),
    ("pandas", "regression",
     lambda t: t.replace("pandas_categorical:null", "pandas_categorical:[1"),
     "pandas_categorical is not JSON"),
    ("too_deep", "regression", lambda t: chain(t, lightgbm_check.MAX_DEPTH + 2),
     f"tree 0: it is deeper than {lightgbm_check.MAX_DEPTH} levels"),
    ("header_in_tail", "regression", header_after_no_trees,
     "feature importance 'num_tree_per_iteration=0' for no feature in a tree"),
    ("unicode_digits", "regression",
     lambda t: first_tree(t, field("split_feature", tokens(0, "\u0661"))),
     "tree_sizes do not add up"),  # they count bytes: Python would count characters
]


@pytest.fixture(scope="module")
def corrupted(models):
    files = {}
    for name, kind, damage, _ in CORRUPTIONS:
        text = text_of(models, kind)
        files[f"{kind}-{name}"] = damaged = damage(text)
        assert damaged != text, name  # the damage applies
    return files


def test_the_chain_used_for_too_deep_is_itself_a_valid_tree(models):
    lightgbm_check.check_model(chain(text_of(models, "regression"),
                                     lightgbm_check.MAX_DEPTH + 1).encode())


@pytest.mark.parametrize("name, kind, damage, message", CORRUPTIONS,
                         ids=[c[0] for c in CORRUPTIONS])
def test_a_crafted_file_is_refused_in_one_line(corrupted, name, kind, damage, message):
    """In this process, the check alone (LightGBM never sees the bytes)."""
    with pytest.raises(InvalidInputError, match=message) as refused:
        lightgbm_check.check_model(corrupted[f"{kind}-{name}"].encode())
    text = str(refused.value)
    assert text.startswith("This is not a readable lightgbm model file: ") and text.endswith(".")
    assert "\n" not in text and len(text) < 400


def test_crafted_files_are_refused_by_the_flavor_and_never_crash(corrupted, models, tmp_path):
    """The registry's load of each, in one subprocess: a crash would show as a missing answer."""
    write_batch(tmp_path, corrupted, models)
    code, answers, stderr = run_helper(tmp_path)
    assert code == 0, stderr[-2000:]
    for name in corrupted:
        assert answers[name][0] == "refused", (name, answers.get(name))
        assert "not a readable lightgbm model file" in answers[name][1]


def test_without_the_check_num_cat_crashes_lightgbm(corrupted, models, tmp_path):
    """What the check is for (and proof that the subprocess tests can fail)."""
    write_batch(tmp_path, {"regression-num_cat": corrupted["regression-num_cat"]}, models)
    code, answers, stderr = run_helper(tmp_path, mode="raw")
    assert code < 0 or code == 134, (code, answers, stderr[-500:])  # SIGABRT: no answer
    assert "regression-num_cat" not in answers


def test_the_mlflow_door_checks_a_lightgbm_file(corrupted):
    from jupyter_mlops.registry.mlflow_boosters import SKIPPED, from_mlflow_folder

    notes: list[str] = []
    files = {"MLmodel": lambda: b"flavors:\n  lightgbm:\n    data: model.lgb\n",
             "model.lgb": lambda: corrupted["regression-num_cat"].encode()}
    assert from_mlflow_folder(files, notes.append, "model 'm' version 1") == SKIPPED
    assert "model.lgb is not a LightGBM text model (This is not a readable lightgbm model " \
           "file: tree 0: its lines are not the keys" in notes[0]


def test_a_model_lightgbm_cannot_write_is_refused():
    with pytest.raises(InvalidInputError, match="does not start with LightGBM's 'tree' line"):
        get_flavor("lightgbm").load(b"tree\nversion=v4")


# ---------------------------------------------------------------- mutations

INTERESTING = ["-1", "0", "1", "2", "3", "4", "5", "6", "7", "8", "-2", "-7", "-8", "12", "31",
               "255", "2147483647", "2147483648", "-2147483648", "4294967296", "99999999",
               "nan", "inf", "1e308", "-0", ""]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?")


def mutate(text: str, changes, repair: bool) -> bytes:
    """``text`` with each ``(operation, where 0…1, byte)`` applied: a byte set, a number
    replaced by an interesting one, a line deleted/duplicated/swapped, a token deleted or
    repeated; ``repair`` recomputes tree_sizes after (so the damage reaches the trees)."""
    for operation, where, byte in changes:
        if operation == 0:
            raw = bytearray(text.encode("utf-8", "surrogateescape"))
            raw[int(where * len(raw))] = byte
            text = raw.decode("utf-8", "surrogateescape")
        elif operation == 1:
            numbers = list(_NUMBER.finditer(text))
            if numbers:
                m = numbers[int(where * len(numbers))]
                text = text[:m.start()] + INTERESTING[byte % len(INTERESTING)] + text[m.end():]
        else:
            lines = text.split("\n")
            at = int(where * len(lines))
            if operation == 2:
                del lines[at]
            elif operation == 3:
                lines.insert(at, lines[at])
            elif operation == 4:
                other = byte * len(lines) // 256
                lines[at], lines[other] = lines[other], lines[at]
            else:
                parts = lines[at].split(" ")
                k = byte % len(parts)
                parts[k:k + 1] = [] if byte < 128 else [parts[k], parts[k]]
                lines[at] = " ".join(parts)
            text = "\n".join(lines)
    if repair:
        text = with_true_sizes(text)
    return text.encode("utf-8", "surrogateescape")


FUZZ_KINDS = ["regression", "categorical", "linear", "multiclass"]
changes = st.lists(st.tuples(st.integers(0, 5), st.floats(0, 1, exclude_max=True),
                             st.integers(0, 255)), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def small_models(models):
    """Few, small trees: a mutation lands on structure more often."""
    return {kind: (lgb.Booster(model_str=booster.model_to_string(num_iteration=2)), X)
            for kind, (booster, X) in models.items() if kind in FUZZ_KINDS}


def check_batch(batch: dict[str, bytes], models, folder: Path) -> dict:
    """Load every file of ``batch`` in one subprocess; fail on a crash or an error that is
    not InvalidInputError."""
    write_batch(folder, batch, models)
    code, answers, stderr = run_helper(folder)
    missing = [name for name in batch if name not in answers]
    assert code == 0 and not missing, (code, missing[:1], stderr[-2000:])
    for name, (word, detail) in answers.items():
        # LibraryRefused: passed by the check, refused by LightGBM's own parser (a parameter
        # value its JSON or number parsing rejects): the flavor's InvalidInputError too.
        assert word in ("ok", "refused") or detail.startswith("LibraryRefused: "), \
            (name, word, detail)
    return answers


@settings(max_examples=6, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(batch=st.lists(st.tuples(st.sampled_from(FUZZ_KINDS), changes, st.booleans()),
                      min_size=30, max_size=30))
def test_a_real_model_with_changed_bytes_or_lines_loads_or_is_refused(small_models, tmp_path,
                                                                     batch):
    import shutil

    folder = tmp_path / "batch"
    shutil.rmtree(folder, ignore_errors=True)
    files = {f"{kind}-{i:03d}": mutate(small_models[kind][0].model_to_string(), ops, repair)
             for i, (kind, ops, repair) in enumerate(batch)}
    check_batch(files, small_models, folder)
