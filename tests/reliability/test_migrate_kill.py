"""SIGKILL ``jupyter mlops migrate`` at random points, then finish the job.

The source is an embedded store (SQLite + local artifacts: runs, 20,000 params, metrics, a
model, 43 blobs of up to 1.5 MiB); the target is a new SQLite or PostgreSQL database and a new
local artifact folder. ``migrate --batch-rows 1`` runs in its own process and is SIGKILLed

* ``rows``   — while it inserts rows (after its first progress line, plus up to a second);
* ``blobs``  — as soon as the first blob appears in the target root;
* ``verify`` — after it reports the blobs copied, while it re-hashes them;
* ``random`` — at a uniformly random moment of an uninterrupted run's duration.

After each kill: the source is byte-for-byte untouched (every row, every artifact file with its
size and mtime) and still opens; the target's database opens (``integrity_check`` on SQLite)
and holds either no rows or every row — never part of them; every blob in the target root is
complete (hash verified) and one of the source's. Then re-running the same command finishes:
on an empty target directly, on a complete-rows target it refuses (nothing written) and says
to use ``--resume``, which copies the missing blobs and verifies every row count and hash.
Finally the target opens as a store with everything the source had, and ``gc`` removes the
temp file a killed blob copy left behind and finds nothing corrupt.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from jupyter_mlops.cli import main
from tests.reliability.faults import record
from tests.reliability.test_migrate import _clean_env  # noqa: F401  (autouse fixture)

MIGRATE = [sys.executable, "-c",
           "import sys; from jupyter_mlops.cli import main; sys.exit(main(sys.argv[1:]))",
           "migrate"]




def tables():
    from jupyter_mlops.store.orm import Base

    return [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import func

    from jupyter_mlops.store.engine import read_connection

    with read_connection(url) as conn:
        present = set(inspect(conn).get_table_names())
        return {t.name: (conn.execute(select(func.count()).select_from(t)).scalar()
                         if t.name in present else 0) for t in tables()}


def fingerprint(url: str, root: str) -> tuple[str, tuple]:
    """Every row of every table (in key order) hashed, and every file under the root."""
    from jupyter_mlops.store.engine import read_connection

    h = hashlib.sha256()
    with read_connection(url) as conn:
        for t in tables():
            h.update(t.name.encode())
            for row in conn.execute(select(t).order_by(*t.primary_key.columns)):
                h.update(repr(tuple(row)).encode())
    files = tuple(sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                         for p in Path(root).rglob("*") if p.is_file()))
    return h.hexdigest(), files


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A SQLite store with enough rows and blobs that each phase of a copy takes a while."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores
    from tests.reliability.test_migrate import populate

    folder = tmp_path_factory.mktemp("kill-source")
    url, root = f"sqlite:///{folder / 'mlops.db'}", str(folder / "artifacts")
    made = populate(url, root)
    c = Client(url, root)
    try:
        run = c.create_run(experiment="bulk", name="bulk")
        c.log_params(run.id, {f"p{i}": i for i in range(20_000)})
        rng = random.Random(0)
        for i in range(40):
            c.log_artifact(run.id, rng.randbytes(rng.randint(512 << 10, 1536 << 10)),
                           name=f"b{i}.bin")
        c.end_run(run.id)
        c.flush()
        made["bulk"] = run.id
        made["digests"] = c.store.catalog.referenced_digests()
    finally:
        c.writer.close()
        forget_open_stores()
    made["fingerprint"] = fingerprint(url, root)
    made["counts"] = counts(url)
    return url, root, made


@pytest.fixture(scope="module")
def clean_seconds(source, tmp_path_factory):
    """How long an uninterrupted migrate of the source takes here (random kills fall in it)."""
    url, root, _ = source
    folder = tmp_path_factory.mktemp("kill-clean")
    t0 = time.monotonic()
    subprocess.run([*MIGRATE, "--from", url, "--to", f"sqlite:///{folder / 't.db'}",
                    "--from-artifacts", root, "--to-artifacts", str(folder / "art"),
                    "--batch-rows", "1", "-q"], check=True, capture_output=True,
                   env=_env(folder), timeout=300)
    return time.monotonic() - t0


def _env(folder: Path) -> dict:
    import jupyter_mlops

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")
           or k == "MLOPS_TEST_DB_URL"}
    env["MLOPS_HOME"] = str(folder / "home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [
        str(Path(jupyter_mlops.__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    return env


def kill_migrate(point: str, seed: int, url: str, root: str, target: str, target_root: str,
                 tmp_path: Path, clean_seconds: float) -> dict:
    """Start migrate in a child process and SIGKILL it at ``point``; say what was killed."""
    from jupyter_mlops.store.blobs import BlobStore

    rng = random.Random(seed)
    proc = subprocess.Popen([*MIGRATE, "--from", url, "--to", target, "--from-artifacts", root,
                             "--to-artifacts", target_root, "--batch-rows", "1"],
                            env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    first_line, blobs_line = threading.Event(), threading.Event()

    def read_progress():
        for line in proc.stderr:
            lines.append(line)
            first_line.set()
            if "blobs:" in line:
                blobs_line.set()

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    if point == "rows":
        first_line.wait(120)
        time.sleep(rng.uniform(0.0, 1.0))
    elif point == "blobs":
        target_blobs = BlobStore(target_root)
        while time.monotonic() < deadline and proc.poll() is None and \
                next(target_blobs.iter_digests(), None) is None:
            time.sleep(0.002)
    elif point == "verify":
        blobs_line.wait(120)
        time.sleep(rng.uniform(0.0, 0.2))
    else:
        time.sleep(rng.uniform(0.0, clean_seconds))
    landed = proc.poll() is None
    if landed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(60)
    reader.join(10)
    proc.stdout.close()
    return {"landed": landed, "returncode": proc.returncode, "progress": "".join(lines)}


def target_state(target: str, source_counts: dict[str, int]) -> str:
    """"none" (no schema yet), "empty" or "complete"; anything else fails the test."""
    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.migrate import HEAD_REVISION, current_revision

    if target.startswith("sqlite:///") and not Path(target[len("sqlite:///"):]).exists():
        return "none"
    with read_connection(target) as conn:
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        revision = current_revision(conn)
    got = counts(target)
    if revision is None:
        assert not any(got.values()), got
        return "none"
    assert revision == HEAD_REVISION  # schema creation is one transaction: all or nothing
    if not any(got.values()):
        return "empty"
    assert got == source_counts, "the target holds part of the rows"
    return "complete"


POINTS = [("rows", 1), ("blobs", 2), ("verify", 3), ("random", 4), ("random", 5),
          ("random", 6)]


@pytest.mark.slow  # SIGKILLs a migration and reruns it, 5–12 s per case measured (load 10)
@pytest.mark.parametrize("point,seed", POINTS, ids=[f"{p}-{s}" for p, s in POINTS])
def test_sigkill_during_migrate_then_rerun_finishes(source, target_url, tmp_path, capsys,
                                                    point, seed, clean_seconds):
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.store.blobs import BlobStore

    url, root, made = source
    target_root = str(tmp_path / "target-artifacts")
    killed = kill_migrate(point, seed, url, root, target_url, target_root, tmp_path,
                          clean_seconds)
    if point in ("rows", "blobs", "verify"):
        assert killed["landed"], f"migrate ended before the {point} kill: {killed}"

    # The source: untouched, row for row and file for file.
    assert fingerprint(url, root) == made["fingerprint"]
    # The target: opens; no rows or all rows; only complete blobs, all the source's.
    state = target_state(target_url, made["counts"])
    if point == "blobs":
        assert state == "complete"  # rows commit before the first blob is copied
    blobs = BlobStore(target_root)
    present = set(blobs.iter_digests())
    assert present <= made["digests"]
    for digest in present:
        assert blobs.verify(digest), f"partial blob {digest} visible in the target"
    forget_open_stores()

    # Re-run the same command: it finishes, or says to use --resume (writing nothing).
    argv = ["migrate", "--from", url, "--to", target_url, "--from-artifacts", root,
            "--to-artifacts", target_root, "-q"]
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    if state == "complete":
        assert rc == 2 and "--resume" in err and "nothing was written" in err, err
        assert counts(target_url) == made["counts"]
        rc = main([*argv, "--resume"])
        out, err = capsys.readouterr()
        assert "resumed" in out
    assert rc == 0, (out, err)
    assert "counts" in out and f"{len(made['digests'])} hashes verified" in out

    # Everything is there, and the target works as a store.
    got = counts(target_url)
    stored = set(blobs.iter_digests())
    lost = sum(max(0, n - got[t]) for t, n in made["counts"].items()) + \
        len(made["digests"] - stored)
    record("sigkill-migrate", faults=int(killed["landed"]), lost=lost,
           checked=sum(got.values()) + len(stored), point=point, state=state,
           backend=target_url.split(":", 1)[0])
    assert lost == 0 and got == made["counts"]
    assert fingerprint(url, root) == made["fingerprint"]
    c = Client(target_url, target_root)
    try:
        assert c.get_run(made["child"]).run.parent_run_id == made["parent"]
        assert len(c.get_run(made["bulk"]).params) == 20_000
        art = next(a for a in c.list_artifacts(made["bulk"]) if a.name == "b7.bin")
        assert c.read_artifact(made["bulk"], "b7.bin")[1] == \
            BlobStore(root).get_bytes(art.digest)
        old = time.time() - 2 * 3600
        temps = list((Path(target_root) / "tmp").glob("*"))
        for tmp in temps:  # what a killed blob copy left: never visible as a blob
            os.utime(tmp, (old, old))
        report = c.gc().blobs
        assert report.corrupt == () and len(report.temp_removed) == len(temps)
    finally:
        c.writer.close()
    forget_open_stores()
    src = Client(url, root)  # the source still opens as a store
    try:
        assert src.get_run(made["bulk"]).run.status == "FINISHED"
    finally:
        src.writer.close()


def test_resume_refuses_rows_that_are_not_the_sources(source, tmp_path, capsys):
    """--resume into a store holding other rows: refused, nothing written."""
    from tests.reliability.test_migrate import populate

    url = source[0]
    other = f"sqlite:///{tmp_path / 'other' / 'mlops.db'}"
    (tmp_path / "other").mkdir()
    populate(other, str(tmp_path / "other" / "artifacts"))
    before = counts(other)
    capsys.readouterr()
    assert main(["migrate", "--from", url, "--to", other, "--resume", "-q"]) == 2
    err = capsys.readouterr().err
    assert "not one" in err and "nothing was written" in err and "params" in err
    assert counts(other) == before
    record("refused-input", inputs=1)


def test_target_is_checked_before_its_schema_is_touched(source, tmp_path, capsys):
    """A non-empty target at an older schema is refused without being upgraded."""
    from jupyter_mlops.store.engine import read_connection, write_connection
    from jupyter_mlops.store.migrate import current_revision, upgrade

    target = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(target, "0001")
    with write_connection(target) as conn:
        conn.execute(text("INSERT INTO experiments (name, created_at) VALUES ('keep', 0)"))
    capsys.readouterr()
    assert main(["migrate", "--from", source[0], "--to", target, "-q"]) == 2
    assert "is not empty: experiments (1)" in capsys.readouterr().err
    with read_connection(target) as conn:
        assert current_revision(conn) == "0001"  # not upgraded: nothing was written
        assert conn.execute(text("SELECT name FROM experiments")).scalars().all() == ["keep"]


def test_blobs_are_streamed_not_held_in_memory(tmp_path):
    """A 48 MiB blob crosses in chunks: Python memory stays far below its size."""
    import tracemalloc

    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.store.transfer import migrate_store

    url, root = f"sqlite:///{tmp_path / 'src.db'}", str(tmp_path / "src-art")
    c = Client(url, root)
    run = c.create_run(experiment="big", name="big")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.writelines(os.urandom(1 << 20) for _ in range(48))
    c.log_artifact(run.id, big, name="big.bin")
    c.end_run(run.id)
    c.flush()
    c.writer.close()
    forget_open_stores()
    tracemalloc.start()
    try:
        report = migrate_store(url, f"sqlite:///{tmp_path / 'dst.db'}", root,
                               str(tmp_path / "dst-art"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.blob_bytes == 48 << 20 and report.verified_blobs == 1
    assert peak < 20 << 20, f"peak {peak / 2**20:.1f} MiB for a 48 MiB blob"


def test_corrupt_source_blob_publishes_nothing(tmp_path, capsys):
    """The streamed copy checks the source hash at the end, before the blob is published."""
    import stat

    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.store.blobs import BlobStore

    url, root = f"sqlite:///{tmp_path / 'src.db'}", str(tmp_path / "src-art")
    c = Client(url, root)
    run = c.create_run(experiment="x", name="x")
    rec = c.log_artifact(run.id, os.urandom(3 << 20), name="a.bin")
    digest = (rec[0] if isinstance(rec, list) else rec).digest
    c.end_run(run.id)
    c.flush()
    c.writer.close()
    forget_open_stores()
    path = BlobStore(root).path_of(digest)
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    with open(path, "r+b") as f:  # same size, one byte flipped near the end
        f.seek((3 << 20) - 10)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    dst_root = tmp_path / "dst-art"
    assert main(["migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 'd.db'}",
                 "--from-artifacts", root, "--to-artifacts", str(dst_root), "-q"]) == 2
    assert f"Artifact blob {digest}" in capsys.readouterr().err
    assert list(BlobStore(str(dst_root)).iter_digests()) == []
    assert list((dst_root / "tmp").glob("*")) == []
    record("corrupt-source-blob", faults=1)
