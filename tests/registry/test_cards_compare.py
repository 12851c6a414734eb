"""Model cards (Markdown + HTML, escaped) and version comparison."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError


@pytest.fixture
def documented(reg, data, pipeline, forest):
    X, _ = data
    client = reg.client
    run = client.create_run(name="fit <b>bold</b>")
    client.log_params(run.id, {"C": 1.0, "note": "<script>alert(1)</script> | pipe"})
    client.log_metrics(run.id, {"auc": 0.97, "loss": 0.12})
    dataset = client.log_dataset(run.id, X, "cancer")
    client.log_notebook(run.id, {"cells": [], "metadata": {}, "nbformat": 4,
                                 "nbformat_minor": 5}, path=None)
    reg.register_model(pipeline, "cancer", run=run, input_example=X.head(2),
                       description="Flags <i>malignant</i> tumours")
    client.end_run(run.id)
    run2 = client.create_run(name="forest")
    client.log_metrics(run2.id, {"auc": 0.95})
    reg.register_model(forest, "cancer", run=run2)
    client.end_run(run2.id)
    reg.set_alias("cancer", "champion", 1, reason="launch", user="ann")
    reg.set_alias("cancer", "challenger", 2, user="ann")
    return reg, run, dataset


def test_card_has_what_a_stakeholder_needs(documented):
    reg, run, dataset = documented
    card = reg.model_card("cancer", 1)
    text = card.markdown
    for needle in ("Model card: cancer version 1", "auc", "0.97", dataset.name, dataset.digest,
                   run.id, "mean radius", "float64", "launch", "champion",
                   "sklearn.pipeline.Pipeline", "Environment", "Notebook"):
        assert needle in text, needle
    assert "C" in text and "1.0" in text
    # The description went to the new model and its first version: the card says it once.
    assert text.count("Flags") == 1, text


def test_card_escapes_user_text_in_both_formats(documented):
    reg, _, _ = documented
    card = reg.model_card("cancer", "champion")
    assert "<script>" not in card.html and "&lt;script&gt;" in card.html
    assert "<i>" not in card.html and "&lt;i&gt;" in card.html
    assert "<script>" not in card.markdown and "<b>" not in card.markdown
    assert r"\| pipe" in card.markdown  # a pipe cannot split a table cell
    assert card._repr_html_() == card.html


def test_card_can_be_saved(documented, tmp_path):
    reg, _, _ = documented
    card = reg.model_card("cancer")
    assert card.version == 2
    assert card.save(tmp_path / "card.html").read_text().startswith("<div")
    assert card.save(tmp_path / "card.md").read_text().startswith("# Model card")


def test_card_of_a_model_without_run(reg, pipeline):
    reg.register_model(pipeline, "bare")
    card = reg.model_card("bare", 1)
    assert "No metrics were recorded" in card.markdown
    assert "No signature" in card.markdown
    with pytest.raises(NotFoundError):
        reg.model_card("bare", 2)


def test_compare_gives_a_table_and_a_figure(documented):
    reg, _, _ = documented
    table, figure = reg.compare_models("cancer")
    assert list(table.index) == [1, 2]
    assert table.loc[1, "auc"] == 0.97 and table.loc[2, "auc"] == 0.95
    assert table.loc[1, "aliases"] == "champion"
    assert [ax.get_title() for ax in figure.axes] == ["auc", "loss"]
    only = reg.compare_models("cancer", versions=[2], metrics=["auc"])
    assert list(only.table.columns)[-1] == "auc" and len(only.figure.axes) == 1


def test_compare_refuses_unknown_versions(documented):
    reg, _, _ = documented
    with pytest.raises(NotFoundError, match=r"no version\(s\) \[9\]"):
        reg.compare_models("cancer", versions=[1, 9])
    with pytest.raises(InvalidInputError):
        reg.compare_models("cancer", versions="1")


def test_compare_without_metrics(reg, pipeline):
    reg.register_model(pipeline, "bare")
    table, figure = reg.compare_models("bare")
    assert len(table) == 1 and len(figure.axes) == 1
