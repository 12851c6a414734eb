"""Registered model files must survive garbage collection."""

from __future__ import annotations

import os
import time

import pytest


def test_gc_keeps_registered_model_blobs(reg, pipeline):
    version = reg.register_model(pipeline, "m")
    path = reg.client.store.blobs.path_of(version.digest)
    old = time.time() - 7200  # past gc's grace period
    os.utime(path, (old, old))
    reg.client.gc()
    assert reg.load_model("models:/m/1").version.version == 1


def test_the_registry_reports_its_digests(reg, pipeline):
    version = reg.register_model(pipeline, "m")
    assert reg.referenced_digests() == {version.digest}
