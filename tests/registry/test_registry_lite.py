"""The registry's sqlite3 path (store/registry_lite.py) writes and reads what the SQLAlchemy
store writes and reads (issue 14: a first register_model + load_model without SQLAlchemy).

Both paths run on one SQLite file store; the rows each writes are compared column by column
(ids and times aside), and each reads what the other wrote. A fresh process checks that the
first registration and load import no SQLAlchemy.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.registry import RegistryStore
from jupyter_mlops.store.registry_lite import LiteRegistryStore

VERSION = dict(digest="a" * 64, size=10, flavor="skops",
               model_class="sklearn.linear_model._logistic.LogisticRegression",
               trusted_types=["sklearn.b", "sklearn.a", "sklearn.a"],
               signature={"inputs": [{"name": "x", "type": "double"}]},
               input_example=None, metrics={"acc": 0.9, "bad": float("nan")},
               description="first", run_id=None, user="ann", details=None)


@pytest.fixture
def sqlite_url(tmp_path):
    from jupyter_mlops.store import forget_open_stores, open_store

    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    open_store(url, str(tmp_path / "artifacts"))  # migrated to head
    yield url
    forget_open_stores()


def _rows(url: str, table: str, drop=("id", "at", "created_at", "updated_at", "model_id")):
    conn = sqlite3.connect(url[len("sqlite:///"):])
    try:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - fixed names
        names = [d[0] for d in cur.description]
        return [{k: v for k, v in zip(names, row) if k not in drop} for row in cur.fetchall()]
    finally:
        conn.close()


def test_a_lite_registration_writes_the_rows_sqlalchemy_writes(sqlite_url):
    lite, full = LiteRegistryStore(sqlite_url), RegistryStore(sqlite_url)
    a = lite.create_version("lite-model", **VERSION)
    b = full.create_version("full-model", **VERSION)
    assert {**a.to_dict(), "id": 0, "name": "", "created_at": 0} == \
        {**b.to_dict(), "id": 0, "name": "", "created_at": 0}
    models = _rows(sqlite_url, "registered_models")
    assert [m.pop("name") for m in models] == ["lite-model", "full-model"]
    assert models[0] == models[1]
    versions = _rows(sqlite_url, "model_versions")
    assert versions[0] == versions[1]
    assert json.loads(versions[0]["metrics"]) == {"acc": 0.9, "bad": None}
    audit = _rows(sqlite_url, "audit_log")
    assert [e.pop("target_id") for e in audit] == ["lite-model", "full-model"]
    assert audit[0] == audit[1]


def test_each_path_reads_what_the_other_wrote(sqlite_url):
    lite, full = LiteRegistryStore(sqlite_url), RegistryStore(sqlite_url)
    lite.create_version("m", **VERSION)
    full.create_version("m", **{**VERSION, "description": "second"})
    lite.create_version("m", **{**VERSION, "description": "third"})
    full.set_alias("m", "champion", 2, user="ann")
    for version in (1, 2, 3):
        assert lite.get_version("m", version) == full.get_version("m", version)
    assert lite.get_latest_version("m") == full.get_latest_version("m")
    assert lite.get_latest_version("m").version == 3
    assert lite.get_version_by_alias("m", "champion") == full.get_version_by_alias("m", "champion")
    assert lite.get_version("m", 2).aliases == ("champion",)
    # anything else is the SQLAlchemy store's
    assert lite.list_versions("m") == full.list_versions("m")


def test_numbers_are_never_reused_after_a_delete(sqlite_url):
    lite, full = LiteRegistryStore(sqlite_url), RegistryStore(sqlite_url)
    lite.create_version("m", **VERSION)
    lite.create_version("m", **VERSION)
    full.delete_version("m", 2, user="ann")
    assert lite.create_version("m", **VERSION).version == 3
    full.delete_model("m", user="ann")
    assert lite.create_version("m", **VERSION).version == 4


def test_the_same_errors(sqlite_url):
    lite, full = LiteRegistryStore(sqlite_url), RegistryStore(sqlite_url)
    lite.create_version("m", **VERSION)
    for call in (lambda s: s.get_version("nope", 1), lambda s: s.get_version("m", 7),
                 lambda s: s.get_version_by_alias("m", "champion"),
                 lambda s: s.get_latest_version("nope")):
        with pytest.raises(NotFoundError) as from_lite:
            call(lite)
        with pytest.raises(NotFoundError) as from_full:
            call(full)
        assert str(from_lite.value) == str(from_full.value)
    for bad in (0, -1, True, "1"):
        with pytest.raises(InvalidInputError):
            lite.get_version("m", bad)
    with pytest.raises(InvalidInputError):
        lite.get_version_by_alias("m", "latest")
    with pytest.raises(InvalidInputError):
        lite.create_version("../m", **VERSION)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40), user=st.text(max_size=20))
def test_hostile_names_are_refused_or_stored_exactly(sqlite_url, name, user):
    lite, full = LiteRegistryStore(sqlite_url), RegistryStore(sqlite_url)
    try:
        made = lite.create_version(name, **{**VERSION, "user": user})
    except InvalidInputError:
        with pytest.raises(InvalidInputError):
            full.create_version(name, **{**VERSION, "user": user})
        return
    assert full.get_version(name, made.version) == made


@pytest.mark.slow
def test_a_fresh_process_registers_and_loads_without_sqlalchemy(tmp_path):
    code = """
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.random.RandomState(0).rand(50, 3); y = (X[:, 0] > 0.5).astype(int)
model = LogisticRegression().fit(X, y)
import jupyter_mlops as mlops
v = mlops.register_model(model, "clf", run=None)
loaded = mlops.load_model(f"models:/clf/{v.version}")
assert (loaded.predict(X) == model.predict(X)).all()
print(sorted(m for m in ("sqlalchemy", "alembic") if m in sys.modules))
"""
    (tmp_path / ".mlops").mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MLOPS_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    outs = []
    for _ in range(2):  # the first creates the store (Alembic); the second is the cold path
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(proc.stdout.strip().splitlines()[-1])
    assert outs[1] == "[]", outs
