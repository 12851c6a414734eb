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
