"""Optional features and the extra that installs each: one clear error when it is missing.

A plain ``pip install jupyter-mlops`` has what notebooks, the panel, the registry, pipelines
and monitoring need. The model server, Parquet, PostgreSQL, S3, Dask and sweeps (Optuna) are
extras (see ``[project.optional-dependencies]`` in pyproject.toml and the README's table):
together they
were a fifth of the install (pyarrow alone 170 MB) and most users need none of them. Each of
those features calls :func:`require` (or :func:`require_for_url`) where it starts, so a
missing extra fails at once with the command that fixes it, rather than as an
``ImportError`` from deep inside pandas, SQLAlchemy or fsspec — or, worse, half-way through
a run.

The check imports the module for real (a spec lookup would pass a package that is present
but broken, such as psycopg without a libpq); the feature imports it next anyway, so this
costs nothing extra, and once imported it is one ``sys.modules`` lookup. Nothing heavy is
imported here: this module sits on hot paths (the store's engine, the blob store).
"""

from __future__ import annotations

import importlib

from jupyter_mlops.errors import MissingExtraError

__all__ = ["MissingExtraError", "require", "require_for_url"]

#: URL scheme of a store or artifact root → (module, extra, feature). SQLite and local
#: folders need nothing beyond the core install; other fsspec protocols (gcs, azure…) bring
#: their own package, which fsspec names itself.
URL_NEEDS: dict[str, tuple[str, str, str]] = {
    "postgresql+psycopg": ("psycopg", "postgres", "A PostgreSQL store"),
    "s3": ("s3fs", "s3", "An s3:// artifact root"),
    "s3a": ("s3fs", "s3", "An s3a:// artifact root"),
}


def require(*modules: str, extra: str, feature: str) -> None:
    """Check that one of ``modules`` imports; else name the extra that installs it.

    Parameters
    ----------
    *modules : str
        Importable names; any one is enough (``"pyarrow", "fastparquet"``: pandas takes
        either for Parquet).
    extra : str
        The extra of ``jupyter-mlops`` that installs the first of them.
    feature : str
        What the user asked for, as the subject of a sentence ("The model server").

    Raises
    ------
    MissingExtraError
        None of ``modules`` imports. The message names the extra and the pip command, then
        the import error itself (which tells a missing package from a broken one).
    """
    if not modules:
        raise TypeError("require() needs at least one module name")
    failure: ImportError | None = None
    for name in modules:
        try:
            importlib.import_module(name)
            return
        except ImportError as exc:
            failure = failure or exc
    raise MissingExtraError(
        f"{feature} needs the {extra!r} extra: pip install \"jupyter-mlops[{extra}]\" "
        f"({failure}).", extra=extra) from failure


def require_for_url(url: str) -> None:
    """:func:`require` what a store or artifact-root URL's scheme needs (see :data:`URL_NEEDS`).

    Raises
    ------
    MissingExtraError
        The scheme needs an extra that is not installed.
    """
    scheme, sep, _ = str(url).partition("://")
    need = URL_NEEDS.get(scheme.lower()) if sep else None
    if need is not None:
        module, extra, feature = need
        require(module, extra=extra, feature=feature)
