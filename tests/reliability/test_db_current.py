"""`jupyter mlops db current` only reads: a foreign database is named and left as it was.

It used to open the file with the normal engine, whose connect pragma switches a SQLite file
to WAL (rewriting its header and mtime) and creates a missing file. It now identifies the
file first and reads through ``engine.read_only_url``, as migrate reads a source.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from jupyter_mlops.cli import main
from jupyter_mlops.errors import EXIT_ERROR
from jupyter_mlops.store.migrate import HEAD_REVISION
from tests.reliability.faults import record
from tests.reliability.test_migrate_foreign import KINDS, snapshot, source_in

#: What `db current` prints (exit 0) for each kind; the others are refused (exit 2).
PRINTS = {"missing": "(empty)", "empty file": "(empty)", "empty database": "(empty)",
          "jupyter-mlops store (older schema)": None,  # its own revision
          "jupyter-mlops store (newer schema)": None}


def db_current(url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["--tracking-uri", url, "db", "current"])
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", KINDS)
def test_db_current_reads_and_never_writes(kind, tmp_path):
    folder, path, before = source_in(tmp_path, kind)

    rc, out, err = db_current(f"sqlite:///{path}")

    record("db-current-foreign", inputs=1, lost=int(snapshot(folder) != before), checked=1)
    assert snapshot(folder) == before  # bytes and mtimes; no -wal, -shm or -journal file
    if kind == "missing":
        assert not path.exists()  # not created
    if kind in PRINTS:
        assert rc == 0, err
        assert out.endswith(f"(this version expects {HEAD_REVISION})\n")
        if PRINTS[kind]:
            assert out.startswith(PRINTS[kind])
        else:
            assert not out.startswith("(empty)") and not out.startswith(HEAD_REVISION)
    else:
        assert rc == EXIT_ERROR and out == ""
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert kind in err, err


def test_db_current_of_a_current_store(client, store_url):
    rc, out, err = db_current(store_url)
    assert rc == 0, err
    assert out == f"{HEAD_REVISION} (this version expects {HEAD_REVISION})\n"
