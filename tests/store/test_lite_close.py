"""Closing the lite store's connections never pulls one from under a running transaction."""

from __future__ import annotations

import sqlite3
import threading
import time

from jupyter_mlops.store import lite


def test_close_waits_for_a_transaction_on_another_thread(tmp_path):
    conn = lite._connection(str(tmp_path / "store.db"))
    inside, errors = threading.Event(), []

    def long_write():
        try:
            with conn.write() as db:
                db.execute("CREATE TABLE t (x)")
                inside.set()
                time.sleep(1.5)  # longer than the one second close used to wait
                db.execute("INSERT INTO t VALUES (1)")
        except Exception as exc:  # what closing under it raised, before the fix
            errors.append(exc)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert inside.wait(10)
    lite.close_connections()
    writer.join(10)
    assert errors == []
    check = sqlite3.connect(tmp_path / "store.db")
    assert check.execute("SELECT x FROM t").fetchall() == [(1,)]  # the write committed
    try:
        conn.conn.execute("SELECT 1")
        raise AssertionError("the connection was left open")
    except sqlite3.ProgrammingError:
        pass  # closed once the transaction ended


def test_a_forked_child_s_copy_is_closed_without_waiting(tmp_path, monkeypatch):
    conn = lite._connection(str(tmp_path / "store.db"))
    conn.lock.acquire()  # as a fork copies a lock some parent thread held
    monkeypatch.setattr(conn, "pid", conn.pid + 1)
    lite.close_connections()
    try:
        conn.conn.execute("SELECT 1")
        raise AssertionError("the child's copy was left open")
    except sqlite3.ProgrammingError:
        pass
