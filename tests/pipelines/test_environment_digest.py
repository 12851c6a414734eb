"""The environment digest (part of every step's cache key) saved between processes (issue 14).

A fresh process reuses the saved environment of the same interpreter while no ``sys.path``
folder changed; a changed folder (an install), a file that does not hold together, or one
for another key means reading the distributions again. The digest is always the one a
full read gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jupyter_mlops.tracking import capture


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    capture.environment.cache_clear()
    yield tmp_path / "home"
    capture.environment.cache_clear()


def test_saved_environment_is_reused_and_equals_a_full_read(home):
    full = capture._read_environment()
    first = capture.environment()
    assert first == full
    path = capture._environment_file(capture._environment_key())
    assert path.parent == home / "cache"
    doc = json.loads(path.read_text())
    doc["platform"] = "saved-platform"  # still holds together: proves the file is read
    path.write_text(json.dumps(doc))
    capture.environment.cache_clear()
    again = capture.environment()
    assert again.digest == full.digest and again.packages == full.packages
    assert again.platform == "saved-platform"


@pytest.mark.parametrize("tamper", [
    lambda d: d.update(digest="0" * 64),                       # digest not of its packages
    lambda d: d["packages"].update({"injected": "1.0"}),       # packages changed, digest not
    lambda d: d.update(key="another interpreter"),             # saved for another key
    lambda d: d.update(packages=["not", "a", "mapping"]),
    lambda d: d.pop("python"),
])
def test_a_file_that_does_not_hold_together_is_read_again(home, tamper):
    full = capture.environment()
    path = capture._environment_file(capture._environment_key())
    doc = json.loads(path.read_text())
    tamper(doc)
    path.write_text(json.dumps(doc))
    capture.environment.cache_clear()
    assert capture.environment() == full
    assert json.loads(path.read_text())["digest"] == full.digest  # rewritten


def test_garbage_and_unwritable_homes_are_not_errors(home):
    full = capture._read_environment()
    path = capture._environment_file(capture._environment_key())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\x00 not json")
    assert capture.environment() == full
    capture.environment.cache_clear()
    (home / "cache").chmod(0o500)
    try:
        path.unlink()
        capture.environment.cache_clear()
        assert capture.environment() == full
    except PermissionError:  # running as root: the folder stays writable
        pass
    finally:
        (home / "cache").chmod(0o700)


def test_a_changed_sys_path_folder_changes_the_key(home, tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = capture._environment_key()
    (folder / "newpkg-1.0.dist-info").mkdir()  # what an install does to the folder
    st = os.stat(folder)
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
    assert capture._environment_key() != before


@pytest.mark.slow
def test_an_install_between_processes_changes_the_digest(home, tmp_path):
    """Two fresh processes: the second sees a distribution added to its path."""
    site = tmp_path / "site"
    site.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(site), os.environ.get("PYTHONPATH")])), "MLOPS_HOME": str(home)}
    code = ("from jupyter_mlops.tracking.capture import environment as e; "
            "print(e().digest, 'zz-probe' in e().packages)")

    def digest():
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=300).stdout.split()
        return out[0], out[1] == "True"

    first, seen = digest()
    assert digest() == (first, False) and not seen  # the second process reused the file
    info = site / "zz_probe-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-probe\nVersion: 1.0\n\n")
    st = os.stat(site)
    os.utime(site, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second, seen = digest()
    assert seen and second != first


def test_saved_environments_are_pruned_to_the_newest(home, monkeypatch):
    cache = home / "cache"
    cache.mkdir(parents=True)
    old = []
    for i in range(capture.ENVIRONMENT_FILES_KEPT + 5):
        path = cache / f"environment-{i:032x}.json"
        path.write_text("{}")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # i = 0 is the oldest
        old.append(path)
    stale = cache / ".environment-x.json.123.tmp"
    stale.write_text("half")
    os.utime(stale, (1_000_000, 1_000_000))
    fresh_tmp = cache / ".environment-y.json.456.tmp"  # a save under way elsewhere
    fresh_tmp.write_text("half")
    other = cache / "something-else.json"  # not ours: never touched
    other.write_text("{}")
    os.utime(other, (1, 1))

    full = capture.environment()
    mine = capture._environment_file(capture._environment_key())
    assert mine.exists() and capture.environment() == full
    kept = sorted(p.name for p in cache.glob("environment-*.json"))
    # The new file plus the newest KEPT - 1 of the old ones.
    newest_old = [p.name for p in old[-(capture.ENVIRONMENT_FILES_KEPT - 1):]]
    assert kept == sorted([mine.name, *newest_old])
    assert not stale.exists() and fresh_tmp.exists() and other.exists()


def test_pruning_keeps_the_file_just_written_even_if_its_clock_is_behind(home, monkeypatch):
    monkeypatch.setattr(capture, "ENVIRONMENT_FILES_KEPT", 2)
    cache = home / "cache"
    cache.mkdir(parents=True)
    future = [cache / f"environment-{i:032x}.json" for i in range(3)]
    for path in future:
        path.write_text("{}")
        os.utime(path, (4_000_000_000, 4_000_000_000))  # written by a clock ahead of ours
    capture.environment()
    mine = capture._environment_file(capture._environment_key())
    assert mine.exists()
    assert len(list(cache.glob("environment-*.json"))) == 3  # 2 newest + the one just written
