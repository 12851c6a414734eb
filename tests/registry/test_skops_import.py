"""registry.skops_import: skops.io imported without walking sklearn's tests and vendored
packages trusts exactly what skops' own import trusts (issue 14).

Each side runs in a fresh interpreter, since skops computes its trusted set once, at import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

DUMP = """
import json, sys
{importer}
import skops.io._trusted_types as t
lists = {{k: v for k, v in vars(t).items() if k.isupper() and isinstance(v, list)
         and all(isinstance(x, str) for x in v)}}
print(json.dumps({{"lists": lists, "dask": "dask.array" in sys.modules,
                  "pytest": "pytest" in sys.modules}}))
"""


def _dump(importer: str) -> dict:
    out = subprocess.run([sys.executable, "-c", DUMP.format(importer=importer)],
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def own():
    """What skops' own import trusts (a fresh interpreter; the same for every test here)."""
    return _dump("import skops.io")


@pytest.mark.slow
def test_trusted_sets_match_skops_own_import(own):
    ours = _dump("from jupyter_mlops.registry.skops_import import skops_io; skops_io()")
    assert own["lists"].keys() == ours["lists"].keys()
    for name, names in own["lists"].items():
        assert sorted(ours["lists"][name]) == sorted(names), name
    assert own["lists"]["SKLEARN_ESTIMATOR_TYPE_NAMES"]  # the comparison compared something
    # what the pruned scan exists to avoid
    assert not ours["dask"] and not ours["pytest"]


def test_estimators_match_all_estimators():
    from sklearn.utils import all_estimators

    from jupyter_mlops.registry.skops_import import estimators

    assert estimators() == all_estimators()


def test_type_filter_goes_to_sklearn():
    import sklearn.utils

    from jupyter_mlops.registry.skops_import import _pruned_or

    wrapped = _pruned_or(sklearn.utils.all_estimators)
    assert wrapped("classifier") == sklearn.utils.all_estimators("classifier")


def _dump_env(importer: str, cache: str) -> dict:
    import os

    env = {**os.environ, "XDG_CACHE_HOME": cache}
    out = subprocess.run([sys.executable, "-c", DUMP.format(importer=importer)], env=env,
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_names_from_the_cache_are_the_names_skops_computes(own, tmp_path):
    importer = "from jupyter_mlops.registry.skops_import import skops_io; skops_io()"
    first = _dump_env(importer, str(tmp_path))  # computes, writes the cache
    files = list((tmp_path / "jupyter-mlops").glob("skops-trusted-*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    cached = _dump_env(importer, str(tmp_path))  # reads it
    for name, names in own["lists"].items():
        assert sorted(first["lists"][name]) == sorted(names), name
        assert sorted(cached["lists"][name]) == sorted(names), name


def _write_cache(tmp_path, monkeypatch, content) -> None:
    from jupyter_mlops.registry import skops_import

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = skops_import.cache_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(content) if not isinstance(content, str) else content)
    path.chmod(0o600)
    return path


GOOD = {"estimators": ["sklearn.linear_model._logistic.LogisticRegression"],
        "public:numpy:numpy.ufunc": ["numpy.add"],
        "public:scipy.special:numpy.ufunc": ["scipy.special._ufuncs.erf"]}


def test_a_sound_cache_file_is_read(tmp_path, monkeypatch):
    from jupyter_mlops.registry import skops_import

    path = _write_cache(tmp_path, monkeypatch, GOOD)
    assert skops_import._read_cache(path) == GOOD


@pytest.mark.parametrize("content", [
    {**GOOD, "estimators": ["os.system"]},  # a type outside sklearn
    {**GOOD, "estimators": ["sklearn.x; import os"]},  # not a dotted name
    {**GOOD, "public:numpy:numpy.ufunc": ["builtins.eval"]},
    {**GOOD, "public:os:numpy.ufunc": ["os.system"]},  # a module skops never asks about
    {**GOOD, "other": ["sklearn.a"]},
    {"public:numpy:numpy.ufunc": ["numpy.add"]},  # no estimators
    {**GOOD, "estimators": "sklearn.a"},
    [1, 2], "not json", "",
])
def test_a_bad_cache_file_is_ignored(tmp_path, monkeypatch, content):
    from jupyter_mlops.registry import skops_import

    path = _write_cache(tmp_path, monkeypatch, content)
    assert skops_import._read_cache(path) is None


def test_a_cache_file_others_may_write_is_ignored(tmp_path, monkeypatch):
    from jupyter_mlops.registry import skops_import

    path = _write_cache(tmp_path, monkeypatch, GOOD)
    path.chmod(0o664)
    assert skops_import._read_cache(path) is None
    path.chmod(0o600)
    link = path.with_name("link.json")
    link.symlink_to(path)
    assert skops_import._read_cache(link) is None  # never through a symlink
