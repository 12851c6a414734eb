"""Logging a folder never copies files from outside it through a symlink.

``log_artifact(folder)`` used to follow every symlinked file (``rglob`` + ``is_file``), so a
folder holding ``notes.txt -> ~/.ssh/id_rsa`` stored the key in the artifact store, readable
by everyone who can read the store. A file link leading outside the folder is now refused,
with one line naming it, before anything is stored; links inside the folder still work.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_mlops.errors import PathEscapeError
from tests.reliability.faults import record

SECRET = b"canary: this must never reach the artifact store"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_bytes(b"a")
    (data / "sub" / "b.txt").write_bytes(b"b")
    return data


def _stored_contents(client, run_id) -> list[bytes]:
    return [client.read_artifact(run_id, a.name)[1] for a in client.list_artifacts(run_id)]


@pytest.mark.parametrize("where", ["top", "sub"])
def test_a_file_link_leading_outside_is_refused_and_nothing_stored(client, folder, tmp_path,
                                                                   artifact_root, where):
    link = (folder if where == "top" else folder / "sub") / "notes.txt"
    os.symlink(tmp_path / "outside" / "secret.txt", link)
    run = client.create_run()
    with pytest.raises(PathEscapeError) as caught:
        client.log_artifact(run.id, folder)
    message = str(caught.value)
    stored = _stored_contents(client, run.id)
    record("symlink-escape", faults=1, lost=int(SECRET in stored), checked=1)
    assert "\n" not in message and str(link) in message and "outside" in message
    assert stored == []  # refused before the first file, not half a folder
    blobs = [p.read_bytes() for p in Path(artifact_root).rglob("*") if p.is_file()]
    assert blobs == [] or all(SECRET not in b for b in blobs)


def test_links_inside_the_folder_are_stored_and_folder_links_not_entered(client, folder,
                                                                         tmp_path):
    os.symlink(folder / "a.txt", folder / "sub" / "same-as-a.txt")
    os.symlink(tmp_path / "outside", folder / "elsewhere")  # a folder link: not entered
    os.symlink(folder / "missing.txt", folder / "dangling.txt")
    run = client.create_run()
    records = client.log_artifact(run.id, folder)
    assert sorted(r.name for r in records) == ["data/a.txt", "data/sub/b.txt",
                                               "data/sub/same-as-a.txt"]
    assert SECRET not in _stored_contents(client, run.id)
    assert client.read_artifact(run.id, "data/sub/same-as-a.txt")[1] == b"a"


def test_the_folder_itself_may_be_a_symlink(client, folder, tmp_path):
    os.symlink(folder, tmp_path / "alias")
    run = client.create_run()
    records = client.log_artifact(run.id, tmp_path / "alias", name="data")
    assert sorted(r.name for r in records) == ["data/a.txt", "data/sub/b.txt"]
