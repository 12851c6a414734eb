"""``mlops.features``: the default client's feature store from the package root."""

from __future__ import annotations

import pandas as pd

import jupyter_mlops as mlops
from tests.features.conftest import rides


def test_the_package_root_reaches_the_default_clients_feature_store(client):
    import jupyter_mlops.feature_store.training  # noqa: F401 - must not shadow mlops.features

    view = mlops.features.register_view("rides", rides(), entity="driver", timestamp="ts",
                                        features=["trips"])
    assert client.features.get_view("rides") == view  # the same store as the default client
    entity = pd.DataFrame({"driver": [1], "ts": [pd.Timestamp("2024-01-01 02:00")]})
    ts = mlops.features.get_training_set(entity, ["rides:trips"])
    with mlops.start_run(name="fit") as run:
        record = mlops.features.log_training_set(ts)
    graph = client.lineage(f"run:{run.id}", depth=3)
    assert f"dataset:{record.id}" in {n.id for n in graph.nodes}
    assert f"training_set:{ts.digest}" in {n.id for n in graph.nodes}
    assert "register_view" in dir(mlops.features)
