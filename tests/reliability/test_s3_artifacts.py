"""Artifacts on an S3-compatible object store: a real HTTP S3 server (moto) on loopback.

The client resolves ``s3://bucket/artifacts`` through fsspec/s3fs exactly as it would for AWS,
MinIO or Ceph; only the endpoint and the fake credentials come from the environment.
"""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import CorruptArtifactError, NotFoundError


@pytest.fixture
def artifact_root(s3_root):  # overrides tests/conftest.py: the client's blobs go to S3
    return s3_root


def _key(root: str, digest: str) -> tuple[str, str]:
    bucket, prefix = root[len("s3://"):].split("/", 1)
    return bucket, f"{prefix}/blobs/{digest[:2]}/{digest[2:4]}/{digest}"


def test_artifacts_round_trip_through_s3(client, s3_client, tmp_path):
    assert client.store.artifact_root.startswith("s3://")
    run = client.create_run(experiment="s3", name="r")
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 1000)
    records = client.log_artifact(run.id, folder)
    records += client.log_artifact(run.id, {"k": [1, 2]}, name="meta.json")
    client.end_run(run.id)
    for rec in records:
        bucket, key = _key(client.store.artifact_root, rec.digest)
        head = s3_client.head_object(Bucket=bucket, Key=key)  # really on the server
        assert head["ContentLength"] == rec.size
    _, data = client.read_artifact(run.id, "model/sub/b.bin")
    assert data == bytes(range(256)) * 1000
    dest = client.download_artifact(run.id, "model/a.txt", tmp_path)
    assert dest.read_text() == "alpha"
    # The same content logged again is not uploaded twice.
    again = client.log_artifact(run.id, {"k": [1, 2]}, name="meta-copy.json")[0]
    assert again.digest == records[-1].digest


def test_tampered_object_is_detected_and_gc_removes_it(client, s3_client):
    run = client.create_run(experiment="s3", name="r")
    rec = client.log_artifact(run.id, b"precious bytes", name="w.bin")[0]
    client.end_run(run.id)
    bucket, key = _key(client.store.artifact_root, rec.digest)
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"evil bytes!!!!")
    with pytest.raises(CorruptArtifactError, match="corrupt"):
        client.read_artifact(run.id, "w.bin")
    report = client.gc().blobs
    assert report.corrupt == (rec.digest,)
    with pytest.raises(NotFoundError):
        client.read_artifact(run.id, "w.bin")
    # Logging it again repairs the artifact.
    client.log_artifact(run.id, b"precious bytes", name="w2.bin")
    assert client.read_artifact(run.id, "w.bin")[1] == b"precious bytes"


def test_gc_on_s3_keeps_referenced_and_young_blobs(client, s3_client):
    run = client.create_run(experiment="s3", name="r")
    kept = client.log_artifact(run.id, b"kept", name="kept.bin")[0]
    orphan = client.store.blobs.put_bytes(b"nobody points at me")
    client.end_run(run.id)
    report = client.gc().blobs  # default grace period: a just-written orphan may be in flight
    assert report.deleted == () and report.checked == 2
    referenced = client.store.catalog.referenced_digests()
    dry = client.store.blobs.gc(referenced, dry_run=True, grace_s=0)
    assert dry.deleted == (orphan.digest,) and client.store.blobs.exists(orphan.digest)
    real = client.store.blobs.gc(referenced, grace_s=0)
    assert real.deleted == (orphan.digest,) and real.bytes_freed == orphan.size
    assert not client.store.blobs.exists(orphan.digest)
    assert client.read_artifact(run.id, "kept.bin")[1] == b"kept"
    bucket, key = _key(client.store.artifact_root, kept.digest)
    s3_client.head_object(Bucket=bucket, Key=key)


@pytest.mark.slow  # a child process: 25 s at load ~25
def test_child_process_reaches_s3_through_the_environment(client, subprocess_env):
    """A spawned kernel/step only has env vars: AWS_ENDPOINT_URL_S3 + FSSPEC_S3_* suffice."""
    import json
    import subprocess
    import sys

    code = ("import json, jupyter_mlops as m\n"
            "r = m.start_run(experiment='child', name='c')\n"
            "rec = m.log_artifact(b'from a child', name='c.bin')\n"
            "m.end_run()\n"
            "print(json.dumps({'run': r.id}))\n")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    run_id = json.loads(out.stdout.strip().splitlines()[-1])["run"]
    assert client.read_artifact(run_id, "c.bin")[1] == b"from a child"
