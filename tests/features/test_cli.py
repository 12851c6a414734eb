"""``jupyter mlops features list|show|materialize``: the feature store's CLI (issue 16).

The commands run as the user runs them, in a child process (``python -m jupyter_mlops.cli``)
on the test store, SQLite and PostgreSQL; one-line refusals and their exit codes go through
``cli.main`` in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_mlops import cli
from tests.features.conftest import rides


def jm(store_url: str, artifact_root: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", store_url,
         "--artifact-root", artifact_root, *argv],
        capture_output=True, text=True, timeout=120)


def main(store_url: str, artifact_root: str, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--tracking-uri", store_url, "--artifact-root", artifact_root, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def driver_stats(features):
    """Two versions of ``driver_stats`` (the second has one more row), one other view."""
    features.register_view("driver_stats", rides().iloc[:5], entity="driver", timestamp="ts",
                           features=["trips", "rating", "city"], ttl=3600 * 12,
                           description="hourly driver activity")
    view = features.register_view("driver_stats", rides(), entity="driver", timestamp="ts",
                                  features=["trips", "rating", "city"], ttl=3600 * 12,
                                  description="hourly driver activity")
    assert view.version == 2
    features.register_view("cities", rides(), entity="city", timestamp="ts",
                            features=["trips"])
    return view


@pytest.mark.slow
def test_list_show_materialize_in_a_child_process(driver_stats, store_url, artifact_root):
    out = jm(store_url, artifact_root, "features", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["VIEW", "LATEST", "ENTITY", "FEATURES"]
    assert lines[1].split()[:3] == ["cities", "1", "city"]
    row = lines[2]
    assert row.startswith("driver_stats  2") and "trips, rating, city" in row
    # freshness: the newest event (2024-01-01 03:00) and never materialized
    assert "2024-01-01 03:00:00" in row and "never" in row

    shown = jm(store_url, artifact_root, "features", "show", "driver_stats")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "driver_stats: 2 version(s); entity driver, time ts" in text
    assert "hourly driver activity" in text and "12:00:00" in text
    assert "Statistics of driver_stats@2:" in text
    stats = {ln.split()[0]: ln.split() for ln in text.split("Statistics of")[1].splitlines()[2:]}
    # trips 10, 11, 12, 20, 21, 30: min 10, mean 17.3333, max 30
    assert stats["trips"][:8] == ["trips", "int64", "numeric", "6", "0.0%", "10", "17.3333",
                                  "30"]
    assert stats["rating"][4] == "16.7%"  # one NaN in six rows
    assert "nice (2)" in text.split("Statistics of")[1]

    older = jm(store_url, artifact_root, "features", "show", "driver_stats", "--version", "1")
    assert "Statistics of driver_stats@1:" in older.stdout
    assert older.stdout.split("Statistics of")[1].count("\n") == 5  # title, header, 3 rows

    done = jm(store_url, artifact_root, "features", "materialize", "driver_stats")
    assert done.returncode == 0, done.stderr
    assert "materialize driver_stats: 3/3 entities" in done.stderr  # progress, per batch
    assert done.stdout.strip() == ("Materialized driver_stats@2: 3 entities written in "
                                   "1 batch(es); watermark at 2024-01-01 03:00:00.")
    after = jm(store_url, artifact_root, "features", "list", "--format", "json")
    listed = {v["name"]: v for v in json.loads(after.stdout)}
    assert listed["driver_stats"]["materialized_to"] == "2024-01-01 03:00:00"
    assert listed["driver_stats"]["versions"] == 2 and listed["cities"]["materialized_to"] is None


def test_materialize_is_incremental_and_quiet_on_request(driver_stats, store_url,
                                                         artifact_root, capsys):
    code, out, err = main(store_url, artifact_root, capsys, "features", "materialize",
                          "driver_stats", "--end", "2024-01-01T01:00:00")
    assert code == 0 and "3/3 entities" in err  # each driver has a row by 01:00
    assert "watermark at 2024-01-01 01:00:00" in out
    code, out, err = main(store_url, artifact_root, capsys, "features", "materialize",
                          "driver_stats", "-q")
    assert code == 0 and err == ""
    # only the rows after the watermark: drivers 1 (03:00) and 2 (02:00)
    assert "2 entities written" in out and "watermark at 2024-01-01 03:00:00" in out


def test_show_json_has_versions_and_statistics(driver_stats, store_url, artifact_root, capsys):
    code, out, _ = main(store_url, artifact_root, capsys, "features", "show", "driver_stats",
                        "--format", "json")
    shown = json.loads(out)
    assert code == 0 and [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["version"] == 2
    hist = {s["feature"]: s["stats"] for s in shown["statistics"]}["rating"]["histogram"]
    assert sum(hist["counts"]) == 5 and len(hist["edges"]) == len(hist["counts"]) + 1


@pytest.mark.parametrize("argv, code, words", [
    (["features", "show", "nope"], 4, "There is no feature view 'nope' (views: 'cities', "
                                      "'driver_stats')"),
    (["features", "show", "driver_stats", "--version", "9"], 4, "has no version 9"),
    (["features", "show", "a:b"], 2, "without ':', '@'"),
    (["features", "materialize", "driver_stats", "--start", "yesterday"], 2,
     "start must be a datetime or an ISO-8601 string, not 'yesterday'"),
    (["features", "materialize", "driver_stats", "--start", "2024-01-02",
      "--end", "2024-01-01"], 2, "is after end"),
])
def test_a_rejected_value_is_one_line(driver_stats, store_url, artifact_root, capsys, argv,
                                      code, words):
    from jupyter_mlops.errors import InvalidInputError, NotFoundError, exit_code_for

    expected = exit_code_for(NotFoundError("x") if code == 4 else InvalidInputError("x"))
    got, out, err = main(store_url, artifact_root, capsys, *argv)
    assert got == expected and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err


def test_version_must_be_a_positive_number(store_url, artifact_root, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--tracking-uri", store_url, "features", "show", "v", "--version", "0"])
    assert exc.value.code == 2
    assert "must be a positive whole number, not '0'" in capsys.readouterr().err


def test_empty_store(client, store_url, artifact_root, capsys):
    code, out, _ = main(store_url, artifact_root, capsys, "features", "list")
    assert code == 0 and out.splitlines()[-1] == "(no feature views registered)"


def test_light_listing_equals_the_sqlalchemy_one(driver_stats, features, client):
    from jupyter_mlops.store.features_lite import list_views

    features.materialize("cities")
    light = list_views(client.store.url)
    full = client.store.features.list_views()
    if client.store.url.startswith("postgresql"):
        assert light is None  # PostgreSQL always takes the SQLAlchemy path
        return
    assert light == full and [i.view.name for i in light] == ["cities", "driver_stats"]
    assert light[0].materialized is not None and light[1].materialized is None


@pytest.mark.slow
def test_list_imports_neither_sqlalchemy_nor_pandas(driver_stats, store_url, artifact_root):
    if not store_url.startswith("sqlite"):
        pytest.skip("the light path is for SQLite file stores")
    code = ("import sys; from jupyter_mlops.cli import main; "
            f"main(['--tracking-uri', {store_url!r}, '--artifact-root', {artifact_root!r}, "
            "'features', 'list']); "
            "print(sorted(m for m in ('sqlalchemy', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "driver_stats" in out.stdout and out.stdout.splitlines()[-1] == "[]"
