"""docs/openapi.yaml describes exactly the routes and verbs the server registers."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from jupyter_mlops.server.handlers import ROUTES

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def _verbs(handler: type) -> set[str]:
    from jupyter_server.base.handlers import APIHandler

    return {v for v in ("get", "head", "post", "put", "patch", "delete")
            if getattr(handler, v) is not getattr(APIHandler, v)}


def test_openapi_matches_the_route_table():
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["openapi"].startswith("3.")
    documented = {path: {k for k in ops if k != "parameters"} for path, ops in spec["paths"].items()}
    served = {"/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern): _verbs(handler)
              for pattern, handler in ROUTES}
    assert documented == served


def test_every_operation_documents_403():
    spec = yaml.safe_load(SPEC.read_text())
    for path, ops in spec["paths"].items():
        for verb, op in ops.items():
            if verb != "parameters":
                assert "403" in op["responses"], (verb, path)


def test_every_ref_resolves():
    spec = yaml.safe_load(SPEC.read_text())
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        target = spec
        for part in ref[2:].split("/"):
            assert part in target, ref
            target = target[part]


def test_the_flavor_enum_is_the_registry_s_flavors():
    from jupyter_mlops.registry.flavors import FLAVORS

    spec = yaml.safe_load(SPEC.read_text())
    documented = spec["components"]["schemas"]["ModelVersion"]["properties"]["flavor"]["enum"]
    assert documented == list(FLAVORS)
