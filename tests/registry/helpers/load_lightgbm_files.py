"""Load each LightGBM model file in a folder and score it: a crash kills only this process.

Usage: load_lightgbm_files.py MODE FOLDER. FOLDER holds model files ``KIND-N.txt``, loaded in
name order (answers name them KIND-N), and for each KIND the rows to score them on,
``KIND.npy``. MODE ``checked`` loads through the registry's lightgbm flavor
(:mod:`jupyter_mlops.registry.lightgbm_check` first); ``raw`` hands the text straight to
``lightgbm.Booster`` (to show what the check prevents). Prints ``start NAME`` before each file
and then one of ``ok NAME`` (loaded and scored, or ``ok NAME predict-error <type>`` when only
scoring raised), ``refused NAME <message>`` (InvalidInputError), ``error NAME <type>: <message>``
(anything else the load raised; ``LibraryRefused`` when the check passed the file and
LightGBM's parser refused it); a crash leaves a ``start`` without an answer.
"""

import sys
from pathlib import Path

import numpy as np



class LibraryRefused(Exception):
    """The check passed the file and LightGBM's own parser refused it."""


mode, folder = sys.argv[1], Path(sys.argv[2])
if mode == "checked":
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.registry import lightgbm_check
    from jupyter_mlops.registry.flavors import get_flavor

    flavor = get_flavor("lightgbm")

    def load(data):
        try:
            return flavor.load(data)  # the check, then LightGBM's parser
        except InvalidInputError as exc:
            try:  # which of the two refused (the check alone never reaches LightGBM)
                lightgbm_check.check_model(data)
            except InvalidInputError:
                raise exc from None
            raise LibraryRefused(str(exc)) from None
else:
    import lightgbm

    class InvalidInputError(Exception):
        pass

    def load(data):
        return lightgbm.Booster(model_str=data.decode("utf-8", "replace"))

for path in sorted(folder.glob("*.txt")):
    print("start", path.stem, flush=True)
    X = np.load(folder / f"{path.stem.split('-')[0]}.npy", allow_pickle=False)
    try:
        model = load(path.read_bytes())
    except InvalidInputError as exc:
        print("refused", path.stem, str(exc).replace("\n", "\\n"), flush=True)
        continue
    except Exception as exc:  # LightGBMError, ValueError from its Python side
        print("error", path.stem, f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
              flush=True)
        continue
    try:
        model.predict(X)
        model.predict(X[:2], pred_leaf=True)
        model.predict(X[:2], pred_contrib=True)  # not for linear trees: an error
    except Exception as exc:  # a wrong width, say: an error, not a crash
        print("ok", path.stem, "predict-error", type(exc).__name__, flush=True)
        continue
    print("ok", path.stem, flush=True)
