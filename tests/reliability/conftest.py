"""Fixtures for the reliability tests: migrate targets and a real S3-compatible server.

``target_url`` is an empty migrate target, once on SQLite and once on PostgreSQL.

``s3_server`` starts moto's server mode (``ThreadedMotoServer``, a real HTTP server speaking
the S3 protocol) on a free 127.0.0.1 port once per session. ``s3_root`` creates a fresh bucket
with boto3 and points everything that resolves an ``s3://`` URL at that server — in this
process through fsspec's configuration, in child processes through the standard
``AWS_ENDPOINT_URL_S3`` and ``FSSPEC_S3_*`` variables — with fake credentials, so no test can
ever reach real AWS.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.conftest import _postgres_database

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """Endpoint URL of moto's S3 server running on loopback for this session."""
    # s3fs and moto[server] are test dependencies: a missing one is a broken install and fails.
    import s3fs  # noqa: F401
    from moto import server as moto_server

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_root(s3_server, monkeypatch) -> str:
    """``s3://<fresh bucket>/artifacts`` on the loopback server, wired into fsspec and env."""
    import boto3
    import fsspec.config

    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("FSSPEC_S3_KEY", FAKE_AWS["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("FSSPEC_S3_SECRET", FAKE_AWS["AWS_SECRET_ACCESS_KEY"])
    # fsspec read FSSPEC_* when it was imported; set its live config for this process too.
    monkeypatch.setitem(fsspec.config.conf, "s3", {
        "endpoint_url": s3_server, "key": FAKE_AWS["AWS_ACCESS_KEY_ID"],
        "secret": FAKE_AWS["AWS_SECRET_ACCESS_KEY"]})
    bucket = f"mlops-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(
        Bucket=bucket)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    return f"s3://{bucket}/artifacts"


@pytest.fixture
def s3_client(s3_server):
    import boto3

    return boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(params=[pytest.param("sqlite", id="to-sqlite"),
                        pytest.param("postgres", id="to-postgres", marks=pytest.mark.postgres)])
def target_url(request, tmp_path):
    """An empty migrate target: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
    else:
        yield from _postgres_database(request)
