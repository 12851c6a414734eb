"""`log_dataset` / `%mlops dataset` take paths, folders, DataFrames and numpy arrays (issue 15);
anything else is refused with a message naming what is accepted."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.hashing import hash_array

from .conftest import text_of


def test_array_digest_is_content_dtype_and_shape():
    a = np.arange(12, dtype="float64").reshape(3, 4)
    same = [np.asfortranarray(a), a.astype(">f8"), a.T.copy().T, a.copy()]
    assert {hash_array(x) for x in same} == {hash_array(a)}
    differ = [a.reshape(4, 3), a.astype("float32"), a + 1, a.reshape(12)]
    assert len({hash_array(x) for x in differ} | {hash_array(a)}) == 5
    # The same in another process (no per-process salt, no memory addresses).
    code = ("import numpy as np; from jupyter_mlops.hashing import hash_array; "
            "print(hash_array(np.arange(12, dtype='float64').reshape(3, 4)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == hash_array(a)
    with pytest.raises(InvalidInputError, match="Python objects"):
        hash_array(np.array([{"a": 1}, None], dtype=object))


def test_log_dataset_kinds(client, tmp_path):
    run = client.create_run(name="data")
    arr = np.arange(20, dtype="int32").reshape(10, 2)
    rec = client.log_dataset(run.id, arr, "features")
    assert rec.digest == hash_array(arr) and rec.row_count == 10
    assert rec.schema == {"dtype": "int32", "shape": "[10, 2]"}
    again = client.log_dataset(run.id, arr.copy(order="F"), "features")
    assert again.digest == rec.digest
    assert client.log_dataset(run.id, arr + 1, "features").digest != rec.digest

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x\n1\n")
    assert client.log_dataset(run.id, tmp_path / "d", "folder").source.endswith("d")
    assert client.log_dataset(run.id, str(tmp_path / "d" / "a.csv"), "file").row_count == 1
    assert client.log_dataset(run.id, pd.DataFrame({"x": [1, 2]}), "frame").row_count == 2
    for bad in ([1, 2, 3], {"x": 1}, 3.5):
        with pytest.raises(InvalidInputError) as err:
            client.log_dataset(run.id, bad, "bad")
        text = str(err.value)
        assert type(bad).__qualname__ in text
        assert "path" in text and "DataFrame" in text and "numpy array" in text


@pytest.mark.kernel
def test_magic_dataset_takes_a_numpy_variable(run_magics, read_client):
    nb = run_magics(
        "%mlops start --name arrays",
        "import numpy as np\nX = np.ones((5, 3))",
        "%mlops dataset X --name X-train",
        "%mlops end",
        allow_errors=False,
    )
    assert "Dataset 'X-train' v1" in text_of(nb.cells[3]) and "5 rows" in text_of(nb.cells[3])
    rec = read_client.get_dataset("X-train")
    assert rec.digest == hash_array(np.ones((5, 3)))
    assert rec.schema == {"dtype": "float64", "shape": "[5, 3]"}
