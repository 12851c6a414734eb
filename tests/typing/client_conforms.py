"""mypy's proof that the Client satisfies every port of ``jupyter_mlops.ports`` (issue 13).

Not run, only type-checked: ``tests/test_client_ports.py`` runs
``mypy --follow-imports=silent`` on this file. Each assignment fails type checking if the
Client (or the facet it hands out) lacks a member of the protocol or has it with other
parameter names, kinds or types. A new protocol gets its line here (the test checks that).
"""

from __future__ import annotations

from jupyter_mlops import ports
from jupyter_mlops.client import Client


def client_conforms(client: Client) -> None:
    # tracking facet
    flusher: ports.Flusher = client
    recorder: ports.RunRecorder = client
    artifacts: ports.ArtifactRecorder = client
    reader: ports.RunReader = client
    located: ports.Located = client
    # stores
    store: ports.StoreHolder = client
    stores: ports.ComponentStoresHolder = client
    both: ports.StoresHolder = client
    component_stores: ports.ComponentStoreSet = client.stores
    # facets
    registry: ports.RegistryHolder = client
    resolver: ports.ModelResolver = client.registry
    predictor: ports.Predictor = client.registry.load_model("models:/m/1")
    pipelines: ports.PipelinesHolder = client
    pipeline_reader: ports.PipelineReader = client.pipelines
    monitoring: ports.MonitoringHolder = client
    lookup: ports.MonitorLookup = client.monitoring
    windows: ports.MonitorWindows = client.monitoring.get("m")
    # what each component needs
    recording: ports.RecordingClient = client
    pipeline: ports.PipelineClient = client
    reproduce: ports.ReproduceClient = client
    sweep: ports.SweepClient = client
    sweep_reader: ports.SweepReader = client
    gates: ports.GateClient = client
    registry_backing: ports.RegistryBacking = client
    monitor: ports.MonitorClient = client
    del (flusher, recorder, artifacts, reader, located, store, stores, both, component_stores,
         registry, resolver, predictor, pipelines, pipeline_reader, monitoring, lookup, windows,
         recording, pipeline, reproduce, sweep, sweep_reader, gates, registry_backing, monitor)
