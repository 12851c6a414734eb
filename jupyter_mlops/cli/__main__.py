"""``python -m jupyter_mlops.cli …``: the same as ``jupyter mlops …``."""

import sys

from jupyter_mlops.cli import main

if __name__ == "__main__":  # importing this module (pkgutil.walk_packages) runs nothing
    sys.exit(main())
