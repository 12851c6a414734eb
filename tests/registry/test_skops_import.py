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


@pytest.mark.slow
def test_trusted_sets_match_skops_own_import():
    own = _dump("import skops.io")
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
