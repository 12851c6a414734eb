"""Every store class implements its interface: all abstract methods, the same signatures,
and no public method the interface does not state (a contract that misses methods is not one)."""

from __future__ import annotations

import inspect

import pytest

from jupyter_mlops.store import interfaces
from jupyter_mlops.store.blobs import BlobStore
from jupyter_mlops.store.catalog import CatalogStore
from jupyter_mlops.store.features import FeatureStore
from jupyter_mlops.store.lineage import LineageStore
from jupyter_mlops.store.monitoring import MonitoringStore
from jupyter_mlops.store.pipelines import PipelineStore
from jupyter_mlops.store.registry import RegistryStore
from jupyter_mlops.store.runs import RunStore

PAIRS = [
    (RunStore, interfaces.AbstractRunStore),
    (CatalogStore, interfaces.AbstractCatalogStore),
    (LineageStore, interfaces.AbstractLineageStore),
    (BlobStore, interfaces.AbstractArtifactStore),
    (RegistryStore, interfaces.AbstractRegistryStore),
    (PipelineStore, interfaces.AbstractPipelineStore),
    (MonitoringStore, interfaces.AbstractMonitoringStore),
    (FeatureStore, interfaces.AbstractFeatureStore),
]
IDS = [impl.__name__ for impl, _ in PAIRS]


def _public_methods(cls: type) -> set[str]:
    return {name for name, value in inspect.getmembers(cls, callable)
            if not name.startswith("_") and not inspect.isclass(value)}


def _shape(fn) -> list[tuple]:
    """Names, kinds, defaults and annotations (as written: both modules postpone them)."""
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()] + \
        [("return", sig.return_annotation)]


@pytest.mark.parametrize("impl, contract", PAIRS, ids=IDS)
def test_the_class_names_its_interface_and_leaves_nothing_abstract(impl, contract):
    assert issubclass(impl, contract)
    assert not impl.__abstractmethods__, sorted(impl.__abstractmethods__)


@pytest.mark.parametrize("impl, contract", PAIRS, ids=IDS)
def test_every_public_method_is_in_the_contract_with_its_signature(impl, contract):
    assert _public_methods(impl) == set(contract.__abstractmethods__)
    for name in contract.__abstractmethods__:
        assert _shape(getattr(impl, name)) == _shape(getattr(contract, name)), name


@pytest.mark.parametrize("impl, contract", PAIRS, ids=IDS)
def test_every_contract_method_states_its_contract_in_its_first_line(impl, contract):
    for name in contract.__abstractmethods__:
        doc = inspect.getdoc(getattr(contract, name)) or ""
        summary = doc.split("\n\n")[0]
        assert summary.strip() and "\n" not in summary, f"{contract.__name__}.{name}: {doc!r}"


def test_an_incomplete_implementation_cannot_be_built():
    class HalfRunStore(interfaces.AbstractRunStore):
        def get_run(self, run_id):
            raise NotImplementedError

    with pytest.raises(TypeError, match="abstract"):
        HalfRunStore()
