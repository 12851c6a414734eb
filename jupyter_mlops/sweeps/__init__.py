"""Hyperparameter sweeps on Optuna, every trial a tracked child run of one parent run.

``sweep(objective, space, n_trials=...)`` (:mod:`jupyter_mlops.sweeps.runner`) takes a
client: the fluent ``jupyter_mlops.sweep`` passes the process default. The space grammar is
in :mod:`jupyter_mlops.sweeps.space`; results in :mod:`jupyter_mlops.sweeps.result`. Optuna
is the ``sweeps`` extra and is imported on first use.
"""

from __future__ import annotations

from jupyter_mlops.lifecycle import lazy_exports

_LAZY = {"sweep": "jupyter_mlops.sweeps.runner",
         "parse_space": "jupyter_mlops.sweeps.space",
         "GRAMMAR": "jupyter_mlops.sweeps.space",
         "SweepResult": "jupyter_mlops.sweeps.result",
         "SweepTrial": "jupyter_mlops.sweeps.trial"}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
