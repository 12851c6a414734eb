"""``python -m jupyter_mlops.serving models:/NAME@ALIAS [--port 5005]``: the same server as
``jupyter mlops serve``, for environments without the ``jupyter`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from jupyter_mlops.errors import MlopsError, exit_code_for
    from jupyter_mlops.serving.command import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.serving",
                                     description="Serve a registered model over HTTP.")
    parser.add_argument("--tracking-uri", help="SQLAlchemy URL of the store")
    parser.add_argument("--artifact-root", help="artifact folder or fsspec URL")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, as `jupyter mlops serve` exits
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
