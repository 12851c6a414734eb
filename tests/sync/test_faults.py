"""Sync under faults: SIGKILL mid-sync, a dropped connection, an unreachable target — and
the command line's one-line errors. After each, a rerun gives exactly a clean sync's result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.errors import StoreUnavailableError
from jupyter_mlops.store.sync import sync_stores
from tests.sync.conftest import Side, snapshot, sync_killed_at

pytestmark = pytest.mark.postgres


def _fill(side: Side, n: int) -> list[str]:
    return [side.run(f"r{i}", points=20, artifact=b"artifact %d" % i) for i in range(n)]


def _clean(local: Side, url: str, root: Path) -> dict:
    sync_stores(local.url, url, local.root, str(root))
    return snapshot(url)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["blobs:", "runs written", "committing"])
def test_sigkill_mid_sync_then_rerun_gives_the_clean_result(local, team, pg_url2, tmp_path,
                                                            subprocess_env, kill_at):
    _fill(local, 60)
    cmd = [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", local.url,
           "--artifact-root", local.root, "sync", "--to", team.url, "--artifacts", team.root]
    sync_killed_at(cmd, kill_at, subprocess_env)
    # Killed before the commit: the target has no row; after: all of them (never a part).
    runs_there = len(snapshot(team.url)["runs"])
    assert runs_there in (0, 60)

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env)
    assert rerun.returncode == 0, rerun.stderr
    assert "no conflicts" in rerun.stdout
    clean = _clean(local, pg_url2, tmp_path / "clean-artifacts")
    assert snapshot(team.url) == clean == snapshot(local.url)
    from jupyter_mlops.store.blobs import BlobStore

    blobs = BlobStore(team.root)
    assert all(blobs.verify(d) for _r, _n, d, _s in clean["artifacts"])


def test_connection_dropped_mid_sync_loses_nothing(local, team, pg_url2, tmp_path,
                                                   pg_admin_engine):
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    _fill(local, 20)
    database = make_url(team.url).database

    def cut(line: str) -> None:  # inside the target's write transaction
        if "runs written" in line:
            with pg_admin_engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :d AND pid <> pg_backend_pid()"),
                             {"d": database})

    with pytest.raises(StoreUnavailableError) as info:
        sync_stores(local.url, team.url, local.root, team.root, progress=cut)
    message = str(info.value)
    assert "\n" not in message and "run the same sync again" in message
    assert snapshot(team.url)["runs"] == {}  # the transaction never committed

    report = sync_stores(local.url, team.url, local.root, team.root)
    assert report.counts["runs_new"] == 20
    assert snapshot(team.url) == _clean(local, pg_url2, tmp_path / "clean") \
        == snapshot(local.url)


def test_an_unreachable_target_is_one_line_and_changes_nothing(local, tmp_path):
    _fill(local, 2)
    before = snapshot(local.url)
    with pytest.raises(StoreUnavailableError) as info:
        sync_stores(local.url, "postgresql+psycopg://nobody@127.0.0.1:1/team", local.root,
                    str(tmp_path / "nowhere"))
    message = str(info.value)
    assert "\n" not in message and "127.0.0.1" in message and "sync again" in message
    assert snapshot(local.url) == before


def test_the_command_line(local, team, capsys):
    from jupyter_mlops.cli import main

    local.run("cli", artifact=b"cli")
    base = ["--tracking-uri", local.url, "--artifact-root", local.root, "sync"]
    assert main(base + ["--to", team.url, "--artifacts", team.root, "-q"]) == 0
    out = capsys.readouterr().out
    assert "1 new" in out and "no conflicts" in out
    assert main(base + ["--to", "mysql://u@h/db"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "unknown store scheme 'mysql'" in err
    assert "\n" not in err
    assert main(base + ["--to", team.url, "--run", "a" * 32]) == 2
    assert "use it with --from" in capsys.readouterr().err
    assert main(base + ["--from", team.url, "--artifacts", team.root, "-q"]) == 0
    assert "0 new" in capsys.readouterr().out


def test_an_artifact_root_that_fails_mid_copy_writes_no_row(local, team, tmp_path):
    local.run("blob", artifact=b"some bytes")
    broken = tmp_path / "not-a-folder"
    broken.write_text("a file where the team's artifact root should be")
    with pytest.raises(StoreUnavailableError) as info:
        sync_stores(local.url, team.url, local.root, str(broken))
    assert "\n" not in str(info.value) and "no rows were written" in str(info.value)
    assert snapshot(team.url)["runs"] == {}
    report = sync_stores(local.url, team.url, local.root, team.root)
    assert report.counts["runs_new"] == 1 and report.blobs_copied == 1
