"""``jupyter mlops serve --features view:feature,…``: the model server adds online features by
entity key, and what it predicts is what the model predicts on the training set's row for the
same entity (train/serve skew 0). The server runs as its own process on a SQLite store."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.serving.conftest import Server, post


class FeatureProject:
    """A store with ``driver_stats`` (no TTL) materialized, and ``eta`` (a linear model
    trained on a point-in-time training set of it) registered as ``eta@champion``."""

    def __init__(self, root):
        from sklearn.linear_model import LinearRegression

        from jupyter_mlops.client import Client

        self.root = root
        self.url = f"sqlite:///{root / 'mlops.db'}"
        self.artifacts = str(root / "artifacts")
        self.client = c = Client(self.url, self.artifacts)
        rng = np.random.default_rng(3)
        n_drivers, per = 40, 6
        t0 = pd.Timestamp("2024-01-01")
        rows = pd.DataFrame({
            "driver": np.repeat(np.arange(n_drivers), per),
            "ts": [t0 + pd.Timedelta(hours=int(h)) for h in
                   np.tile(np.arange(per) * 5, n_drivers) + rng.integers(0, 4, n_drivers * per)],
            "trips": rng.integers(0, 60, n_drivers * per),
            "rating": rng.normal(4.5, 0.3, n_drivers * per),
        })
        rows.loc[7, "rating"] = np.nan  # a missing value in an older row: never the latest
        c.features.register_view("driver_stats", rows, entity="driver", timestamp="ts",
                                 features=["trips", "rating"])
        c.features.materialize("driver_stats")
        # Labels after every event: each row's features are the driver's latest values.
        self.labels = pd.DataFrame({"driver": np.arange(n_drivers),
                                    "ts": t0 + pd.Timedelta(days=30),
                                    "tip": rng.normal(5, 1, n_drivers)})
        self.training = c.features.get_training_set(
            self.labels, ["driver_stats:trips", "driver_stats:rating"]).frame
        X = self.training[["trips", "rating"]]
        self.model = LinearRegression().fit(X, self.training["tip"])
        v = c.registry.register_model(self.model, "eta", input_example=X.head())
        c.registry.set_alias("eta", "champion", v.version)
        c.flush()

    def env(self, **extra):
        from tests.serving.conftest import Project

        return Project.env(self, **extra)


@pytest.fixture(scope="module")
def fproject(tmp_path_factory):
    from jupyter_mlops.store import forget_open_stores

    p = FeatureProject(tmp_path_factory.mktemp("serve-features"))
    yield p
    p.client.writer.close()
    forget_open_stores()


@pytest.mark.slow  # trains, registers and starts a server process
def test_served_prediction_equals_the_training_rows(fproject):
    server = Server(fproject, "--features", "driver_stats:trips,driver_stats:rating",
                    model="models:/eta@champion")
    try:
        drivers = [3, 0, 39, 17, 3]
        status, body = post(server.url + "/invocations",
                            {"dataframe_records": [{"driver": d} for d in drivers]})
        assert status == 200, body
        train = fproject.training.set_index("driver").loc[drivers, ["trips", "rating"]]
        # The same values in the same (row-major) layout the server builds: BLAS sums a
        # column-major frame in another order, which moves the last bit of a prediction.
        with warnings.catch_warnings():  # an array has no feature names: it is the point
            warnings.simplefilter("ignore")
            offline = fproject.model.predict(np.ascontiguousarray(train.to_numpy(np.float64)))
        assert body["predictions"] == offline.tolist()  # exactly: skew 0
        assert np.allclose(body["predictions"], fproject.model.predict(train), rtol=1e-12)

        # dataframe_split with the key among other columns gives the same answer
        status, split = post(server.url + "/invocations", {"dataframe_split": {
            "columns": ["driver"], "data": [[d] for d in drivers]}})
        assert status == 200 and split["predictions"] == body["predictions"]

        # an entity never materialized: no value, and a linear model cannot score NaN
        status, err = post(server.url + "/invocations",
                           {"dataframe_records": [{"driver": 3}, {"driver": 999}]})
        assert status == 400
        assert "No online value of driver_stats:trips for driver=999" in err["message"]
        assert "cannot score missing values" in err["message"]

        status, err = post(server.url + "/invocations", {"dataframe_records": [{"car": 1}]})
        assert status == 400 and "entity key column(s) 'driver'" in err["message"]
        status, err = post(server.url + "/invocations",
                           {"dataframe_records": [{"driver": "3"}]})
        assert status == 400 and "keys are integers" in err["message"]
        status, err = post(server.url + "/invocations",
                           {"dataframe_records": [{"driver": 3, "trips": 1}]})
        assert status == 400 and "come from the feature store" in err["message"]
    finally:
        server.stop()


def test_an_unknown_feature_never_starts_a_server(fproject):
    from jupyter_mlops.errors import InvalidInputError, NotFoundError
    from jupyter_mlops.serving.server import build_app

    with pytest.raises(NotFoundError, match="'nope' is not in feature view driver_stats@1"):
        build_app("models:/eta@champion", client=fproject.client,
                  features="driver_stats:nope", poll_interval=0)
    with pytest.raises(NotFoundError, match="There is no feature view 'cars'"):
        build_app("models:/eta@champion", client=fproject.client, features="cars:x",
                  poll_interval=0)
    with pytest.raises(InvalidInputError, match="--features takes 'view:feature' names"):
        build_app("models:/eta@champion", client=fproject.client,
                  features="driver_stats:trips,,", poll_interval=0)


def _invoke(app, body: dict) -> tuple[int, dict, dict]:
    """POST /invocations straight into the ASGI app (no server process): status, headers,
    body."""
    import asyncio
    import json

    sent: list[dict] = []
    inbox = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/invocations", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "scheme": "http"}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), json.loads(payload)


@pytest.fixture(scope="module")
def nan_model(fproject):
    """A model that scores missing values (gradient boosting): gaps are filled, not refused."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    # Float columns in its signature: an integer column cannot hold NaN (the server refuses
    # a non-integer value for it), so a model meant to score gaps is trained on floats.
    X = fproject.training[["trips", "rating"]].astype("float64")
    model = HistGradientBoostingRegressor(max_iter=5).fit(X, fproject.training["tip"])
    v = fproject.client.registry.register_model(model, "eta_nan", input_example=X.head())
    fproject.client.registry.set_alias("eta_nan", "champion", v.version)
    return model


def test_a_response_says_which_features_were_filled_with_nan(fproject, nan_model):
    from jupyter_mlops.serving.features import WARNING_HEADER
    from jupyter_mlops.serving.server import build_app

    app = build_app("models:/eta_nan@champion", client=fproject.client,
                    features="driver_stats:trips,driver_stats:rating", poll_interval=0)
    status, headers, body = _invoke(app, {"dataframe_records": [
        {"driver": 3}, {"driver": 999}, {"driver": 5}, {"driver": 998}]})
    assert status == 200, body
    assert len(body["predictions"]) == 4
    warned = {w["feature"]: w for w in body["warnings"]}
    assert sorted(warned) == ["driver_stats:rating", "driver_stats:trips"]
    for w in warned.values():
        assert w["rows"] == [1, 3] and w["keys"] == ["driver=999", "driver=998"]
        assert w["code"] == "FEATURE_MISSING" and "filled with NaN" in w["message"]
    assert headers[WARNING_HEADER] == b"driver_stats:trips=2,driver_stats:rating=2"
    # the filled rows are scored as the model scores NaN
    nan_row = pd.DataFrame({"trips": [np.nan], "rating": [np.nan]})
    assert body["predictions"][1] == pytest.approx(nan_model.predict(nan_row)[0])

    # a request with every value present carries no warning, in the body or the headers
    status, headers, body = _invoke(app, {"dataframe_records": [{"driver": 3}]})
    assert status == 200 and "warnings" not in body and WARNING_HEADER not in headers
