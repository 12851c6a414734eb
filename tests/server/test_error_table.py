"""REST answers errors with the status of ``jupyter_mlops.errors.ERROR_TABLE`` (the CLI's exit
codes come from the same table: ``tests/test_errors.py``)."""

from __future__ import annotations

import os
import stat

from jupyter_mlops.errors import (
    ERROR_TABLE,
    CorruptArtifactError,
    InvalidInputError,
    NotFoundError,
)


async def test_not_found_and_invalid_input_use_the_table(api, mlops_store):
    status, body = await api("runs", "0" * 32)
    assert status == ERROR_TABLE[NotFoundError].http_status == 404
    assert body["error"]["type"] == "NotFoundError"
    status, body = await api("runs", params={"limit": "many"})
    assert status == ERROR_TABLE[InvalidInputError].http_status == 400
    assert body["error"]["type"] == "InvalidInputError"


async def test_a_corrupt_blob_is_a_server_side_integrity_error(api, mlops_store):
    from jupyter_mlops.client import Client
    from jupyter_mlops.store.blobs import BlobStore

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        record = next(a for a in client.list_artifacts(mlops_store.beta)
                      if a.name == "passwd.txt")
    finally:
        client.close()
    path = BlobStore(mlops_store.artifact_root).path_of(record.digest)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "wb") as f:
        f.write(b"damaged on disk")

    status, body = await api("runs", mlops_store.beta, "artifacts", "passwd.txt")

    assert status == ERROR_TABLE[CorruptArtifactError].http_status
    assert status >= 500  # not 422: the request was fine, the stored data is not
    assert body["error"]["type"] == "CorruptArtifactError"
    assert record.digest in body["error"]["message"]
    assert "damaged on disk" not in str(body)  # the bad bytes are never served
