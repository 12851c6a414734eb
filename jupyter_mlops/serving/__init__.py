"""Model serving (C8): ``jupyter mlops serve models:/NAME@ALIAS``.

A small ASGI app on uvicorn that speaks MLflow's scoring protocol (``POST /invocations``),
checks input against the registered signature, follows the alias without restarting and
logs served requests to a monitor. See :mod:`.app`, :mod:`.server` and ``docs/serving.md``.
"""
