"""Crafted model files, altered blobs and missing rights: refused, nothing executed or changed."""

from __future__ import annotations

import os
import pickle
import stat

import pytest

from jupyter_mlops.errors import CorruptArtifactError, InvalidInputError, NotFoundError
from tests.registry.conftest import craft_skops


def _registry_state(reg):
    """Everything the registry holds, to show an operation changed nothing."""
    models = [m.to_dict() for m in reg.list_models()]
    versions = {m["name"]: [v.to_dict() for v in reg.list_versions(m["name"])] for m in models}
    return models, versions, [e.to_dict() for e in reg.audit_log(limit=None)], \
        [p.to_dict() for p in reg.list_promotions()]


def _plant_version(reg, data: bytes, flavor: str, name: str = "evil") -> None:
    """Register bytes as if someone had written them into the registry directly."""
    info = reg.client.store.blobs.put_bytes(data)
    reg.store.create_version(name, digest=info.digest, size=info.size, flavor=flavor,
                             model_class="x.Y", trusted_types=[], signature=None,
                             input_example=None, metrics=None, description=None, run_id=None,
                             user="mallory")


@pytest.mark.parametrize("module,func,argument_template", [
    ("os", "system", "touch {marker}"),
    ("builtins", "eval", "open({marker!r}, 'w').write('pwned')"),
    ("builtins", "exec", "open({marker!r}, 'w').write('pwned')"),
])
def test_crafted_skops_file_is_refused_at_load_naming_the_type(
        reg, tmp_path, module, func, argument_template):
    marker = tmp_path / "pwned"
    data = craft_skops(module, func, argument_template.format(marker=str(marker)))
    _plant_version(reg, data, "skops")
    with pytest.raises(InvalidInputError, match=rf"trusted set: {module}\.{func}\b"):
        reg.load_model("models:/evil/1")
    assert not marker.exists()


def test_the_crafted_file_really_would_run_code_if_trusted(tmp_path):
    # Proves the test above can fail: with the type trusted, skops does execute it.
    marker = tmp_path / "pwned"
    import skops.io as sio  # here, not at collection: with torch installed it imports torch

    data = craft_skops("builtins", "exec", f"open({str(marker)!r}, 'w').write('pwned')")
    sio.loads(data, trusted=["builtins.exec"])
    assert marker.exists()


def test_crafted_skops_file_from_a_run_is_refused_at_register(client, reg, tmp_path):
    marker = tmp_path / "pwned"
    run = client.create_run()
    client.log_artifact(run.id, craft_skops("os", "system", f"touch {marker}"), "model.skops")
    before = _registry_state(reg)
    with pytest.raises(InvalidInputError, match=r"os\.system"):
        reg.register_model(f"runs:/{run.id}/model.skops", "evil")
    assert _registry_state(reg) == before
    assert not marker.exists()
    client.end_run(run.id)


def test_vouching_at_load_for_a_type_is_explicit(reg, tmp_path):
    # The loader's own trusted_types extend the set; other crafted types stay refused.
    marker = tmp_path / "pwned"
    _plant_version(reg, craft_skops("os", "system", f"touch {marker}"), "skops")
    with pytest.raises(InvalidInputError, match=r"os\.system"):
        reg.load_model("models:/evil/1", trusted_types=["builtins.eval"])
    assert not marker.exists()


class Exploit:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_never_loaded_without_trust(client, reg, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Exploit(str(marker)))
    run = client.create_run()
    client.log_artifact(run.id, payload, "model.pkl")
    before = _registry_state(reg)
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.register_model(f"runs:/{run.id}/model.pkl", "evil")
    assert _registry_state(reg) == before
    _plant_version(reg, payload, "pickle")
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.load_model("models:/evil/1")
    with pytest.raises(InvalidInputError, match="trusted=True"):
        reg.load_model("models:/evil/1", trusted="yes")  # only the literal True counts
    assert not marker.exists()
    client.end_run(run.id)


def test_a_pickle_disguised_as_skops_is_not_unpickled(reg, tmp_path):
    marker = tmp_path / "pwned"
    _plant_version(reg, pickle.dumps(Exploit(str(marker))), "skops")
    with pytest.raises(InvalidInputError, match="not a readable skops"):
        reg.load_model("models:/evil/1")
    assert not marker.exists()


def _alter_blob(reg, digest: str) -> None:
    path = reg.client.store.blobs.path_of(digest)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_altered_blob_is_refused_at_load_and_registry_unchanged(reg, pipeline):
    version = reg.register_model(pipeline, "m")
    reg.set_alias("m", "champion", 1)
    _alter_blob(reg, version.digest)
    before = _registry_state(reg)
    with pytest.raises(CorruptArtifactError, match=version.digest):
        reg.load_model("models:/m@champion")
    assert _registry_state(reg) == before


def test_altered_run_artifact_cannot_be_registered(client, reg, pipeline):
    import skops.io as sio

    run = client.create_run()
    record = client.log_artifact(run.id, sio.dumps(pipeline), "model.skops")[0]
    _alter_blob(reg, record.digest)
    before = _registry_state(reg)
    with pytest.raises(CorruptArtifactError):
        reg.register_model(f"runs:/{run.id}/model.skops", "m")
    assert _registry_state(reg) == before
    client.end_run(run.id)


def test_deleted_blob_is_not_found(reg, pipeline):
    version = reg.register_model(pipeline, "m")
    reg.client.store.blobs.delete(version.digest)
    with pytest.raises(NotFoundError, match="garbage-collected"):
        reg.load_model("models:/m/1")


def test_approving_without_the_role_changes_nothing(reg, pipeline):
    from jupyter_mlops.errors import PermissionDeniedError

    reg.register_model(pipeline, "m")
    reg.grant_role("admin-user", "admin", by="admin-user")
    reg.grant_role("dana", "data_scientist", by="admin-user")
    request = reg.propose("m", 1, "champion", reason="best so far", user="dana")
    before = _registry_state(reg)
    with pytest.raises(PermissionDeniedError, match="'dana' may not approve.*ml_engineer"):
        reg.approve(request.id, user="dana")
    with pytest.raises(PermissionDeniedError, match="'nobody' may not approve"):
        reg.reject(request.id, user="nobody")
    assert _registry_state(reg) == before
    assert reg.store.list_promotions("m")[0].status == "PENDING"
    assert reg.get_model("m").aliases == {}


def test_alias_to_a_missing_version_is_not_found_and_changes_nothing(reg, pipeline):
    reg.register_model(pipeline, "m")
    before = _registry_state(reg)
    with pytest.raises(NotFoundError, match="no version 2"):
        reg.set_alias("m", "champion", 2)
    with pytest.raises(NotFoundError, match="no registered model 'other'"):
        reg.set_alias("other", "champion", 1)
    with pytest.raises(NotFoundError, match="no version 5"):
        reg.propose("m", 5)
    assert _registry_state(reg) == before
