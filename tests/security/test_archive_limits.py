"""Zip bombs and damaged archives: model files and profiles are bounded before inflating.

One real 2 GiB bomb (a 2 MB file) is built once per session; it carries both an
``sklearn-trees`` header and a skops ``schema.json`` pointing at the same bomb member, so it
attacks both formats. Registering and loading it happen in a child process whose peak RSS
shows that nothing was inflated.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.archive_limits import (
    DEFAULT_MAX_BYTES,
    ENV_MAX_BYTES,
    ENV_MAX_RATIO,
    RATIO_FLOOR,
    Limits,
    check_zip,
    limits,
    parse_size,
)
from jupyter_mlops.errors import ArchiveLimitError, CorruptArtifactError, InvalidInputError
from jupyter_mlops.registry import treefile
from jupyter_mlops.registry.flavors import FLAVORS
from tests.reliability.faults import record

BOMB_BYTES = 2 << 30
_CHUNK = bytes(1 << 24)


def _tree_header() -> bytes:
    return json.dumps({"format": treefile.FORMAT, "version": treefile.FORMAT_VERSION,
                       "sklearn": "1", "root": {"$t": "est", "class":
                                                "sklearn.tree.DecisionTreeClassifier",
                                                "state": {}}}).encode()


def _skops_schema(member: str) -> bytes:
    import skops

    return json.dumps({"__class__": "ndarray", "__module__": "numpy",
                       "__loader__": "NdArrayNode", "type": "numpy", "file": member,
                       "protocol": 2, "_skops_version": skops.__version__}).encode()


def _npy_header(n_bytes: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_2_0(buf, {"descr": "|u1", "fortran_order": False,
                                               "shape": (n_bytes,)})
    return buf.getvalue()


def make_bomb(n_bytes: int, member: str = "nodes.npy", extra: dict[str, bytes] | None = None
              ) -> bytes:
    """A zip whose ``member`` is a valid .npy of ``n_bytes`` zeros, deflated (≈ 1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(treefile.HEADER, _tree_header())
        zf.writestr("schema.json", _skops_schema(member))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with mock.patch.object(zipfile, "_get_compressor", lambda *a, **k: _ZerosDeflate()), \
                zf.open(info, "w", force_zip64=True) as f:
            f.write(_npy_header(n_bytes))
            left = n_bytes
            while left:
                f.write(_CHUNK if left >= len(_CHUNK) else _CHUNK[:left])
                left -= min(left, len(_CHUNK))
    return buf.getvalue()


class _ZerosDeflate:
    """A raw deflate stream written piece by piece, each piece by a fresh compressor ended with a
    full flush: a whole run of complete, byte-aligned blocks that refer to nothing before it.
    Such runs concatenate into one valid stream, so the 16 MiB chunk of zeros is deflated once
    and its blocks repeated (deflating 2 GiB of zeros took ~13 s of CPU). zipfile still
    computes the CRC and sizes from the real bytes written."""

    _chunk: bytes | None = None

    def compress(self, data) -> bytes:
        if data is _CHUNK:
            if _ZerosDeflate._chunk is None:
                _ZerosDeflate._chunk = self._deflate(data)
            return _ZerosDeflate._chunk
        return self._deflate(data)

    @staticmethod
    def _deflate(data) -> bytes:
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        return z.compress(data) + z.flush(zlib.Z_FULL_FLUSH)

    def flush(self) -> bytes:  # the last block: empty, marked final
        return zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


@pytest.fixture(scope="session")
def big_bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    path.write_bytes(make_bomb(BOMB_BYTES))
    return path


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    monkeypatch.delenv(ENV_MAX_BYTES, raising=False)
    monkeypatch.delenv(ENV_MAX_RATIO, raising=False)


# ----------------------------------------------------------------------------- the check
@pytest.mark.slow
def test_the_session_bomb_is_a_real_one(big_bomb):
    data = big_bomb.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.getinfo("nodes.npy").file_size > BOMB_BYTES
        with zf.open("nodes.npy") as f:  # it inflates: the .npy header, then zeros
            assert f.read(len(_npy_header(BOMB_BYTES))) == _npy_header(BOMB_BYTES)
            start = f.read(3 * len(_CHUNK))  # across two repeated deflate runs
        assert start == bytes(len(start)) and len(start) == 3 * len(_CHUNK)
    assert len(data) < 4 << 20  # a few MB claiming 2 GiB


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["trees-load", "trees-inspect", "skops-load",
                                    "skops-inspect"])
def test_both_formats_refuse_the_bomb_naming_size_and_variable(big_bomb, reader):
    data = big_bomb.read_bytes()
    call = {"trees-load": treefile.loads, "trees-inspect": treefile.inspect,
            "skops-load": FLAVORS["skops"].load, "skops-inspect": FLAVORS["skops"].inspect}
    with pytest.raises(ArchiveLimitError) as caught:
        call[reader](data)
    message = str(caught.value)
    record("zip-bomb", inputs=1)
    assert "2,048.0 MiB" in message and "1,024.0 MiB" in message and ENV_MAX_BYTES in message


def test_a_small_bomb_is_refused_by_its_ratio():
    data = make_bomb(64 << 20)  # 64 MiB of zeros in ≈ 64 KB: under the size limit
    for call in (treefile.loads, FLAVORS["skops"].load, FLAVORS["skops"].inspect):
        with pytest.raises(ArchiveLimitError, match=ENV_MAX_RATIO) as caught:
            call(data)
        assert "'nodes.npy'" in str(caught.value)


def test_many_small_members_are_judged_together():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(24):  # each 1 MiB, under the floor; together 24 MiB at ≈ 1000:1
            zf.writestr(f"a{i}.npy", bytes(1 << 20))
    with pytest.raises(ArchiveLimitError, match="its 24 members would inflate"):
        check_zip(buf.getvalue(), "x")


def test_a_bomb_member_hidden_among_large_stored_ones_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("noise.npy", np.random.default_rng(0).bytes(40 << 20))  # stored, 1:1
        zf.writestr("bomb.npy", bytes(40 << 20), compress_type=zipfile.ZIP_DEFLATED)
    data = buf.getvalue()
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()) < 3 * len(data)
    with pytest.raises(ArchiveLimitError, match="'bomb.npy' would inflate"):
        check_zip(data, "x")


def test_a_mostly_zero_model_under_the_floor_passes():
    from sklearn.linear_model import LogisticRegression

    x = np.zeros((50, 200_000))
    x[:, :50] = np.eye(50)
    model = LogisticRegression(max_iter=50).fit(x, np.arange(50) % 2)  # coef: ≈ all zeros
    data = _deflated_skops(model)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert max(i.file_size / i.compress_size for i in zf.infolist()) > 200
    FLAVORS["skops"].load(data)


def test_the_ratio_limit_is_configurable(monkeypatch):
    data = make_bomb(32 << 20)
    with pytest.raises(ArchiveLimitError):
        check_zip(data, "x")
    monkeypatch.setenv(ENV_MAX_RATIO, "5000")
    check_zip(data, "x")  # passes: it is the rest of the file that is then judged
    with pytest.raises(InvalidInputError, match="not a valid sklearn-trees"):
        treefile.loads(data)


def test_the_byte_limit_is_configurable(monkeypatch):
    data = make_bomb(4 << 20)
    monkeypatch.setenv(ENV_MAX_RATIO, "100000")
    check_zip(data, "x")
    monkeypatch.setenv(ENV_MAX_BYTES, "2M")
    with pytest.raises(ArchiveLimitError, match=r"above the limit of 2\.0 MiB") as caught:
        check_zip(data, "model file")
    assert "MLOPS_ARCHIVE_MAX_BYTES=4G" in str(caught.value)


def test_a_large_json_member_is_refused(monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("schema.json", b" " * (3 << 20))
    monkeypatch.setenv(ENV_MAX_BYTES, "32M")  # JSON limit: 2 MiB
    with pytest.raises(ArchiveLimitError, match="of JSON"):
        FLAVORS["skops"].inspect(buf.getvalue())
    monkeypatch.setenv(ENV_MAX_BYTES, "64M")
    with pytest.raises(InvalidInputError) as caught:  # now read, and found not to be skops
        FLAVORS["skops"].inspect(buf.getvalue())
    assert not isinstance(caught.value, ArchiveLimitError)


def test_small_members_are_not_ratio_checked():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", b" " * (RATIO_FLOOR - 1))  # ≈ 1000:1, but only 1 MiB
    check_zip(buf.getvalue(), "x")


def test_overlapping_members_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a", b"x" * 1000)
    data = buf.getvalue()
    # A second central-directory entry "b" pointing at the same bytes as "a": the trick of
    # overlapping ("non-recursive") zip bombs, here on a small scale.
    start, end = data.rfind(b"PK\x01\x02"), data.rfind(b"PK\x05\x06")
    entry = data[start:end]
    twin = entry[:46] + b"b" + entry[47:]  # the file name starts at byte 46 of an entry
    eocd = bytearray(data[end:])
    eocd[8:10] = eocd[10:12] = (2).to_bytes(2, "little")  # entries on this disk / in all
    eocd[12:16] = (2 * len(entry)).to_bytes(4, "little")  # central directory size
    doubled = data[:end] + twin + bytes(eocd)
    with zipfile.ZipFile(io.BytesIO(doubled)) as zf:
        assert zf.namelist() == ["a", "b"]

    with pytest.raises(InvalidInputError, match="overlapping"):
        check_zip(doubled, "x")


@pytest.mark.parametrize("text,expected", [("1024", 1024), ("2G", 2 << 30), ("512 MiB", 512 << 20),
                                           ("1.5k", 1536), ("3t", 3 << 40), ("7b", 7)])
def test_sizes_parse(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("name,value", [(ENV_MAX_BYTES, "lots"), (ENV_MAX_BYTES, "0"),
                                        (ENV_MAX_BYTES, "-1G"), (ENV_MAX_RATIO, "0.5"),
                                        (ENV_MAX_RATIO, "nan"), (ENV_MAX_RATIO, "inf"),
                                        (ENV_MAX_RATIO, "x")])
def test_bad_limit_settings_are_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError, match=name):
        limits()


def test_the_variables_are_registered_and_documented():
    from jupyter_mlops.config import ENV_VARS

    docs = (Path(__file__).parents[2] / "docs" / "tracking.md").read_text()
    for name in (ENV_MAX_BYTES, ENV_MAX_RATIO):
        assert name in ENV_VARS and name in docs
    assert limits() == Limits(DEFAULT_MAX_BYTES, 200.0)


# ----------------------------------------------------------------------------- real models
@pytest.fixture(scope="module")
def real_files():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    return {"trees": treefile.dumps(forest),
            "skops": FLAVORS["skops"].save(LogisticRegression().fit(x, y)).data,
            "skops-deflated": _deflated_skops(forest)}


def _deflated_skops(model) -> bytes:
    import skops.io as sio

    return sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=9)


def test_real_model_files_pass_the_limits(real_files):
    assert treefile.loads(real_files["trees"]).predict(np.zeros((1, 6))).shape == (1,)
    FLAVORS["skops"].load(real_files["skops"])
    for data in real_files.values():
        check_zip(data, "x")


# ----------------------------------------------------------------------------- fuzzing
_ALLOWED = (InvalidInputError, CorruptArtifactError)
_READERS = {"trees-load": treefile.loads, "trees-inspect": treefile.inspect,
            "skops-load": FLAVORS["skops"].load, "skops-inspect": FLAVORS["skops"].inspect}


def _only_clear_errors(data: bytes) -> None:
    record("hostile-model-file", inputs=1)
    for name, read in _READERS.items():
        try:
            read(data)
        except _ALLOWED:
            pass
        except Exception as exc:  # noqa: BLE001 - the point of the test
            raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}") from exc


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_only_raise_clear_errors(data):
    _only_clear_errors(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(["trees", "skops", "skops-deflated"]),
       edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
       cut=st.one_of(st.none(), st.integers(min_value=0)))
def test_damaged_model_files_only_raise_clear_errors(real_files, which, edits, cut):
    data = bytearray(real_files[which])
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[:cut % (len(data) + 1)]
    _only_clear_errors(bytes(data))


@settings(max_examples=100, deadline=None)
@given(members=st.dictionaries(
    st.sampled_from([treefile.HEADER, "schema.json", "nodes.npy", "values.npy", "a0.npy",
                     "x"]),
    st.tuples(st.binary(max_size=2048), st.sampled_from([zipfile.ZIP_STORED,
                                                         zipfile.ZIP_DEFLATED])),
    max_size=5))
def test_random_zips_only_raise_clear_errors(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (data, method) in members.items():
            zf.writestr(name, data, compress_type=method)
    _only_clear_errors(buf.getvalue())


# ----------------------------------------------------------------------------- memory
CHILD = """
import json, resource, sys
import sklearn.tree, skops.io  # imported before the baseline: only the calls are measured
from jupyter_mlops.client import Client

reg = Client().registry
uri = "runs:/" + sys.argv[1] + "/bomb.zip"
calls = {
    "register sklearn-trees": lambda: reg.register_model(uri, "bomb"),
    "register skops": lambda: reg.register_model(uri, "bomb2", flavor="skops"),
    "load sklearn-trees": lambda: reg.load_model("models:/crafted-trees/1"),
    "load skops": lambda: reg.load_model("models:/crafted-skops/1"),
}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
errors = {}
for name, call in calls.items():
    try:
        call()
        errors[name] = None
    except Exception as exc:
        errors[name] = type(exc).__name__ + ": " + str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "errors": errors}))
"""


@pytest.mark.slow
def test_register_and_load_refuse_the_bomb_without_inflating_it(client, big_bomb,
                                                                subprocess_env):
    run = client.create_run()
    (art,) = client.log_artifact(run.id, big_bomb, name="bomb.zip")
    store = client.registry.store
    for name, flavor in (("crafted-trees", "sklearn-trees"), ("crafted-skops", "skops")):
        # A store someone tampered with: the version row points at the bomb directly.
        store.create_version(name, digest=art.digest, size=art.size, flavor=flavor,
                             model_class="sklearn.tree.DecisionTreeClassifier",
                             trusted_types=[], signature=None, input_example=None,
                             metrics={}, description=None, run_id=None, user="mallory")
    client.flush()

    child = subprocess.run([sys.executable, "-c", CHILD, run.id], env=subprocess_env,
                           capture_output=True, text=True, timeout=600)

    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    record("zip-bomb", inputs=len(result["errors"]))
    for name, error in result["errors"].items():
        assert error and error.startswith("ArchiveLimitError") and ENV_MAX_BYTES in error, (
            name, error)
    assert result["grew_mb"] < 200, result
