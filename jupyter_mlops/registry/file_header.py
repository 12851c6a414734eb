"""The one-line JSON header the registry puts before a model file it wraps.

Library-native model files (a LightGBM text model, an XGBoost JSON/UBJ model, Lightning
weights) do not keep what the registry needs to load them back as they were: the wrapper
class, its params, the hparams. So the registry stores ``MAGIC`` + one line of JSON + the
native bytes. The header is untrusted input like the rest of the file: bounded in length, a
JSON object, of a known version, else one line saying to register the model again.
"""

from __future__ import annotations

import json

from jupyter_mlops.errors import InvalidInputError

#: Longest header read; a longer one is refused rather than searched for.
MAX_HEADER = 1 << 20


def split_header(data: bytes, magic: bytes, version: int,
                 what: str) -> tuple[dict | None, bytes]:
    """``(header, native bytes)``, or ``(None, data)`` when ``data`` has no header.

    ``what`` names the header in errors (``"This lightgbm model file's header"``).
    """
    if not data.startswith(magic):
        return None, data
    end = data.find(b"\n", len(magic), len(magic) + MAX_HEADER)
    if end < 0:
        raise InvalidInputError(f"{what} is cut off or too long; re-register the model.")
    try:
        header = json.loads(data[len(magic):end])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInputError(f"{what} is not JSON; re-register the model.") from None
    if not isinstance(header, dict) or header.get("version") != version:
        raise InvalidInputError(f"{what} is not version {version} of the format; "
                                "re-register the model with this jupyter-mlops.")
    return header, data[end + 1:]
