"""Model files outside the registry: what pipeline steps hand each other.

A training step writes its model to a file that a later step (evaluate, promote) reads back.
:func:`save_model_file` writes the format the registry would pick for the same model (the
``sklearn-trees`` file for tree models, skops for other scikit-learn models, the library's own
file for LightGBM/XGBoost, pickle only with ``trusted=True``), and :func:`load_model_file`
recognises the format from the bytes and loads it with the registry's safety rules: nothing
runs code from the file unless ``trusted=True``, and a skops file naming a type outside the
trusted set is refused with the type named.

Why not ``skops.io.dump``/``load`` in the notebook: ``import skops.io`` walks every
scikit-learn package to build its trusted set (seconds per kernel, paid again by every step);
these go through :func:`.skops_import.skops_io`, which does not, and tree models skip skops.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.registry import flavors


def save_model_file(model: Any, path: str | os.PathLike[str], *, flavor: str | None = None,
                    trusted: bool = False) -> Path:
    """Write ``model`` to ``path`` (created with its parent folders, replaced atomically).

    Parameters
    ----------
    model : object
        A fitted model (scikit-learn, LightGBM, XGBoost; any object with ``predict`` when
        ``trusted=True``).
    path : str or path-like
        The file to write; its name does not choose the format.
    flavor : str, optional
        Force a format (``skops``, ``sklearn-trees``, ``lightgbm``, ``xgboost``, ``pickle``);
        by default the one the registry picks.
    trusted : bool
        Needed to write a pickle (loading it will need ``trusted=True`` as well).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    target = _as_path(path)
    _, saved = flavors.save_model(model, flavor, trusted)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A reader (the next step, a parallel run) sees the old file or the new one, never half.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(saved.data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_model_file(path: str | os.PathLike[str], *, trusted: bool = False,
                    trusted_types: Iterable[str] = ()) -> Any:
    """Load a model file written by :func:`save_model_file` (or by skops, LightGBM, XGBoost).

    Parameters
    ----------
    path : str or path-like
    trusted : bool
        Needed to load a pickle or joblib file (they can run code when loaded).
    trusted_types : iterable of str
        Types a skops file may name beyond skops' defaults (the error of a refused load lists
        them).

    Returns
    -------
    object
        The model itself.

    Raises
    ------
    NotFoundError
        No such file.
    InvalidInputError
        Not a model file, or loading it needs more trust than given.
    """
    source = _as_path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"No model file at {str(source)!r}: check the path (relative "
                            f"paths start from {os.getcwd()!r}).") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{str(source)!r} is a folder; give the model file in it.") \
            from None
    if isinstance(trusted_types, str):
        trusted_types = [trusted_types]
    chosen = flavors.flavor_for_file(data, source.name, None, trusted)
    return chosen.load(data, trusted=trusted, trusted_types=tuple(trusted_types))


def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidInputError(f"A model file path must be a non-empty str or path, not "
                                f"{path!r}.")
    return Path(path)
