"""Pipeline files and Python construction: loading, parameters and validation messages."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.pipelines.spec import Pipeline, Step

from .conftest import write_notebook, write_yaml


@pytest.fixture
def folder(tmp_path):
    write_notebook(tmp_path / "prep.ipynb", "pass", params="n = 10\nname = 'a'\nrate = 0.5")
    write_notebook(tmp_path / "train.ipynb", "pass", params="lr = 0.1")
    return tmp_path


GOOD = """
name: demo
parameters: {n: 5, lr: 0.01}
steps:
  prep:
    notebook: prep.ipynb
    parameters: {n: "${n}", name: "data-${n}"}
    outputs: {train: data/train.csv}
  train:
    notebook: train.ipynb
    depends_on: [prep]
    parameters: {lr: "${lr}"}
    inputs: [data/train.csv]
    outputs: [model.bin]
    retries: 2
    timeout: 30
"""


def test_yaml_and_python_construction_agree(folder):
    loaded = Pipeline.load(write_yaml(folder / "pipeline.yaml", GOOD))
    built = Pipeline("demo", parameters={"n": 5, "lr": 0.01}, base_dir=folder, steps=[
        Step("prep", "prep.ipynb", parameters={"n": "${n}", "name": "data-${n}"},
             outputs={"train": "data/train.csv"}),
        Step("train", "train.ipynb", depends_on=["prep"], parameters={"lr": "${lr}"},
             inputs=["data/train.csv"], outputs=["model.bin"], retries=2, timeout=30)])
    assert loaded.to_dict() == built.to_dict()
    assert loaded.digest() == built.digest()
    resolved = loaded.with_parameters({"n": "7"}).validate()
    prep = resolved.step("prep")
    assert prep.parameters == {"n": 7, "name": "data-7"}  # whole refs keep their type
    assert resolved.order() == ["prep", "train"]


def _problems(folder, text: str, **overrides) -> str:
    spec = Pipeline.load(write_yaml(folder / "p.yaml", text))
    with pytest.raises(InvalidInputError) as err:
        spec.with_parameters(overrides).validate()
    return str(err.value)


def test_validation_names_step_and_field(folder):
    msg = _problems(folder, """
name: bad
steps:
  a: {notebook: missing.ipynb}
  b: {notebook: prep.ipynb, depends_on: [nope], parameters: {n: "ten"}}
  c: {notebook: train.ipynb, parameters: {lr: 0.2, momentum: 0.9}}
""")
    assert "step 'a': field 'notebook': no notebook at" in msg
    assert "step 'b': field 'depends_on': no step named 'nope'" in msg
    assert "step 'b': field 'parameters.n': expected int like 10, got str 'ten'" in msg
    assert "step 'c': field 'parameters.momentum'" in msg and "does not define" in msg
    assert "3 problem(s)" not in msg  # every problem listed, not just the first
    assert msg.count("\n  ") == 4


def test_cycle_is_reported_with_its_path(folder):
    msg = _problems(folder, """
name: loop
steps:
  a: {notebook: prep.ipynb, depends_on: [c]}
  b: {notebook: prep.ipynb, depends_on: [a]}
  c: {notebook: prep.ipynb, depends_on: [b]}
""")
    assert "field 'depends_on': dependency cycle a -> c -> b -> a" in msg


def test_input_made_by_a_step_that_is_not_upstream(folder):
    msg = _problems(folder, """
name: io
steps:
  a: {notebook: prep.ipynb, outputs: [out.csv]}
  b: {notebook: train.ipynb, inputs: [out.csv]}
""")
    assert "step 'b': field 'inputs': 'out.csv' is made by step 'a'" in msg
    assert "add 'a' to depends_on" in msg


def test_pipeline_parameter_errors(folder):
    write_yaml(folder / "p.yaml", GOOD)
    spec = Pipeline.load(folder / "p.yaml")
    with pytest.raises(InvalidInputError, match="has no parameter 'epochs'"):
        spec.with_parameters({"epochs": "3"})
    with pytest.raises(InvalidInputError, match="parameter 'lr': expected float"):
        spec.with_parameters({"lr": "fast"})
    assert spec.with_parameters({"lr": "1"}).parameters["lr"] == 1  # int is fine for float
    with pytest.raises(InvalidInputError, match=r"\$\{nope\} names no pipeline parameter"):
        Pipeline("x", [Step("a", "prep.ipynb", parameters={"n": "${nope}"})],
                 base_dir=folder).with_parameters({})


def test_malformed_files(tmp_path):
    with pytest.raises(NotFoundError):
        Pipeline.load(tmp_path / "absent.yaml")
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        Pipeline.load(write_yaml(tmp_path / "a.yaml", "steps: [unclosed"))
    with pytest.raises(InvalidInputError, match="unknown field"):
        Pipeline.load(write_yaml(tmp_path / "b.yaml",
                                 "name: x\nsteps:\n  a: {notebook: a.ipynb, retry: 2}\n"))
    with pytest.raises(InvalidInputError, match="'steps' must list"):
        Pipeline.load(write_yaml(tmp_path / "c.yaml", "name: x\nsteps: []\n"))
