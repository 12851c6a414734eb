"""Fixtures for sync: a local embedded store (SQLite + folder) and a team store (PostgreSQL +
folder), real on both sides, and a snapshot of everything sync carries, for comparisons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _postgres_database


@pytest.fixture
def pg_url(request) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (the team store)."""
    yield from _postgres_database(request)


@pytest.fixture
def pg_url2(request) -> Iterator[str]:
    """A second fresh PostgreSQL database (a clean target to compare with)."""
    yield from _postgres_database(request)


class Side:
    """One store: its URL, artifact root and a Client on it."""

    def __init__(self, url: str, root: Path):
        from jupyter_mlops.client import Client

        self.url, self.root = url, str(root)
        self.client = Client(url, self.root)

    def run(self, name: str, *, points: int = 5, end: bool = True, artifact: bytes | None = None,
            experiment: str = "sync-exp") -> str:
        c = self.client
        run = c.create_run(experiment, name=name)
        c.log_params(run.id, {"lr": 0.01, "name": name})
        c.set_tags(run.id, {"team": "ml"})
        for step in range(points):
            c.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
        if artifact is not None:
            c.log_artifact(run.id, artifact, name="notes.txt")
        c.flush()
        if end:
            c.end_run(run.id)
        return run.id


@pytest.fixture
def local(tmp_path: Path) -> Side:
    folder = tmp_path / "laptop"
    folder.mkdir()
    return Side(f"sqlite:///{folder / 'mlops.db'}", folder / "artifacts")


@pytest.fixture
def team(pg_url: str, tmp_path: Path) -> Side:
    return Side(pg_url, tmp_path / "team-artifacts")


def snapshot(url: str) -> dict:
    """What sync carries, in a form equal between two stores holding the same data."""
    from sqlalchemy import select

    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.metric_chunks import unpack
    from jupyter_mlops.store.orm import (
        Artifact, DatasetVersion, Experiment, LatestMetric, MetricChunk, ModelAlias,
        ModelVersion, Param, RegisteredModel, Run, Tag,
    )

    with read_connection(url) as conn:
        exp = dict(conn.execute(select(Experiment.id, Experiment.name)).all())
        runs = {r.id: (r.name, r.status, r.end_time, r.user, exp[r.experiment_id],
                       r.parent_run_id, r.start_time)
                for r in conn.execute(select(Run))}
        params = sorted(conn.execute(select(Param.run_id, Param.key, Param.value)).all())
        tags = sorted(conn.execute(select(Tag.run_id, Tag.key, Tag.value)).all())
        series: dict = {}
        for rid, key, n, data in conn.execute(select(
                MetricChunk.run_id, MetricChunk.key, MetricChunk.n, MetricChunk.data)
                .order_by(MetricChunk.id)):
            series.setdefault((rid, key), []).append((n, data))
        points = {}
        for k, blobs in series.items():
            s, v, t = unpack(blobs)
            points[k] = sorted(zip(s.tolist(), t.tolist(), v.tolist()))
        latest = sorted(tuple(r) for r in conn.execute(select(
            LatestMetric.run_id, LatestMetric.key, LatestMetric.value, LatestMetric.step,
            LatestMetric.timestamp, LatestMetric.count)).all())
        arts = sorted(conn.execute(select(Artifact.run_id, Artifact.name, Artifact.digest,
                                          Artifact.size)).all())
        models = dict(conn.execute(select(RegisteredModel.id, RegisteredModel.name)).all())
        versions = {i: (models[m], v) for i, m, v in conn.execute(select(
            ModelVersion.id, ModelVersion.model_id, ModelVersion.version))}
        version_rows = sorted(conn.execute(select(ModelVersion.version, ModelVersion.digest,
                                                  ModelVersion.run_id)).all())
        aliases = sorted((models[m], a, versions[v]) for m, a, v in conn.execute(select(
            ModelAlias.model_id, ModelAlias.alias, ModelAlias.version_id)))
        datasets = sorted(conn.execute(select(DatasetVersion.name, DatasetVersion.version,
                                              DatasetVersion.digest)).all())
    return {"runs": runs, "params": params, "tags": tags, "points": points, "latest": latest,
            "artifacts": arts, "versions": version_rows, "aliases": aliases,
            "datasets": datasets}


# ---------------------------------------------------------------------------- both targets
def sqlite_side(folder: Path, template) -> Side:
    """A SQLite store in ``folder``: a copy of the session's migrated template (no migration
    per test) with an identity of its own."""
    import shutil

    from tests.conftest import _new_identity

    folder.mkdir()
    shutil.copyfile(template, folder / "mlops.db")
    url = f"sqlite:///{folder / 'mlops.db'}"
    _new_identity(url)
    return Side(url, folder / "artifacts")


def sync_killed_at(cmd: list[str], kill_at: str, env: dict) -> None:
    """Run the sync command ``cmd`` and SIGKILL it when its progress prints ``kill_at``."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if kill_at in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)


@pytest.fixture
def laptop(tmp_path: Path, _sqlite_template) -> Side:
    """The laptop store."""
    return sqlite_side(tmp_path / "laptop", _sqlite_template)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request, tmp_path: Path, _sqlite_template) -> Iterator[Side]:
    """The team store: another SQLite file, or a PostgreSQL database (both real)."""
    from tests.conftest import _new_identity

    if request.param == "sqlite":
        yield sqlite_side(tmp_path / "team", _sqlite_template)
        return
    template = request.getfixturevalue("_postgres_template")
    for url in _postgres_database(request, template):
        _new_identity(url)
        yield Side(url, tmp_path / "team-artifacts")
