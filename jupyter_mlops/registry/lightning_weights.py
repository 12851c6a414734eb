"""The ``lightning`` flavor: a LightningModule's weights and hparams, never its pickled object.

A file of this flavor is one of

* a ``state_dict`` as Lightning autologging writes it (:mod:`jupyter_mlops.tracking.autolog.
  lightning_fit`): ``model/model.safetensors``, or ``model/state_dict.pt`` (``torch.save`` of
  the tensors alone), read back with ``safetensors.torch.load`` or
  ``torch.load(..., weights_only=True)`` — tensors only, no code;
* the same weights behind one header line (the JSON on one line) with what the run's
  ``model/lightning.json`` says about them::

      jupyter-mlops/lightning
      {"version": 1, "format": "safetensors", "module_class": "__main__.Tiny",
       "hparams": {"hidden": 8, "lr": 0.05}, "hparams_left_out": [], "signature": {...}}
      <weights>

Loading gives the state dict (a dict of tensors). Given ``module=`` — a ``torch.nn.Module``
subclass, built as ``module(**hparams)``, or an instance — it loads the weights into the
module strictly and gives that. The class is never taken from the file: ``module_class`` is
only a name to show. Importing a class an artifact names would run whatever code its writer
chose. The hparams in the header are untrusted input: a JSON object of JSON scalars and
lists (:func:`jupyter_mlops.tracking.json_params.check_params`), checked against the class's
signature before it is called.
"""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry.file_header import split_header
from jupyter_mlops.tracking.json_params import check_params

MAGIC = b"jupyter-mlops/lightning\n"
HEADER_VERSION = 1
FORMATS = ("safetensors", "torch-state-dict")
BARE_CLASS = "torch state_dict"
_ZIP_MAGIC = b"PK\x03\x04"


def looks_like(data: bytes, filename: str) -> bool:
    """Whether a run's file appears to be Lightning weights (validated by ``inspect``)."""
    name = filename.lower()
    return (data.startswith(MAGIC) or name.endswith(".safetensors")
            or (name.endswith((".pt", ".pth")) and data.startswith(_ZIP_MAGIC)))


def _weights_format(native: bytes) -> str:
    """``torch-state-dict`` (a zip, as ``torch.save`` writes) or ``safetensors`` (an 8-byte
    header length, then a JSON object)."""
    if native.startswith(_ZIP_MAGIC):
        return FORMATS[1]
    if len(native) > 8 and native[8:9] == b"{":
        return FORMATS[0]
    raise _unreadable("neither safetensors nor a torch.save zip")


def _unreadable(detail: str) -> InvalidInputError:
    return InvalidInputError(f"This is not a readable lightning weights file: {detail}.")


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


def split(data: bytes) -> tuple[dict | None, bytes]:
    """``(header or None, weights)``; InvalidInputError for a damaged header."""
    what = "This lightning model file's header"
    header, native = split_header(data, MAGIC, HEADER_VERSION, what)
    if header is not None:
        _check_description(header, what)
    return header, native


def _check_description(about: dict, what: str) -> None:
    """The fields of a header (or of the run's lightning.json) that are used or shown."""
    if about.get("format") not in FORMATS:
        raise InvalidInputError(f"{what} names format {str(about.get('format'))[:80]!r}; "
                                f"known: {', '.join(FORMATS)}.")
    if not isinstance(about.get("module_class", ""), str):
        raise InvalidInputError(f"{what}: 'module_class' must be text.")
    check_params(about.get("hparams", {}), what)
    left_out = about.get("hparams_left_out", [])
    if not (isinstance(left_out, list) and all(isinstance(k, str) for k in left_out)):
        raise InvalidInputError(f"{what}: 'hparams_left_out' must be a list of names.")
    if not isinstance(about.get("signature", {}), (dict, type(None))):
        raise InvalidInputError(f"{what}: 'signature' must be an object.")


def bundle(native: bytes, about: dict) -> bytes:
    """``native`` behind the header made of ``about`` (a lightning.json), checked first."""
    what = "The run's lightning.json"
    _check_description(about, what)
    if about["format"] != _weights_format(native):
        raise InvalidInputError(f"{what} says format {about['format']!r}, but the file is "
                                f"{_weights_format(native)}.")
    header = {"version": HEADER_VERSION, "format": about["format"],
              "module_class": _shown_class(about),
              "hparams": about.get("hparams", {}),
              "hparams_left_out": about.get("hparams_left_out", [])}
    if about.get("signature"):
        header["signature"] = about["signature"]
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + native


def _shown_class(about: dict) -> str:
    """The module class a description names: text to show, never imported."""
    return (about.get("module_class") or BARE_CLASS)[:512]


def state_dict(native: bytes) -> dict[str, Any]:
    """The tensors of a weights file, read without running code from it."""
    fmt = _weights_format(native)
    import torch

    if fmt == "safetensors":
        from safetensors.torch import load

        try:
            state = load(bytes(native))
        except Exception as exc:  # SafetensorError: a bad header, offsets out of range
            raise _unreadable(_one_line(exc)) from None
    else:
        from jupyter_mlops.archive_limits import check_zip

        check_zip(native, "torch state_dict file")
        try:
            state = torch.load(io.BytesIO(native), weights_only=True, map_location="cpu")
        except Exception as exc:  # UnpicklingError for anything but tensors, bad zips, ...
            raise _unreadable(f"torch.load(weights_only=True) refused it: {_one_line(exc)}") \
                from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise _unreadable("it holds more than named tensors (save module.state_dict())")
    return dict(state)


def build(module: Any, header: dict | None) -> Any:
    """The module to load weights into: ``module`` itself if it is an instance, else
    ``module(**hparams)`` with the version's recorded hparams."""
    import torch

    if isinstance(module, torch.nn.Module):
        return module
    if not (isinstance(module, type) and issubclass(module, torch.nn.Module)):
        raise InvalidInputError(
            f"module= takes your LightningModule class (or any torch.nn.Module subclass) or an "
            f"instance of it, not {type(module).__name__}.")
    hparams = dict((header or {}).get("hparams", {}))
    left_out = (header or {}).get("hparams_left_out") or []
    name = module.__name__
    note = f" (not recorded, not JSON: {', '.join(left_out)[:200]})" if left_out else ""
    try:
        inspect.signature(module).bind(**hparams)
    except TypeError as exc:
        raise InvalidInputError(
            f"The version's hparams {sorted(hparams)}{note} do not fit {name}(...): {exc}. "
            f"Build the module yourself and pass module=<the instance>.") from None
    except ValueError:  # no signature to check: the call says
        pass
    try:
        return module(**hparams)
    except Exception as exc:
        raise InvalidInputError(
            f"{name}(**hparams) with the version's hparams{note} raised "
            f"{type(exc).__name__}: {_one_line(exc)}. Build the module yourself and pass "
            "module=<the instance>.") from exc


class LightningFormat:
    """The flavor's behaviour; :mod:`.flavors` mixes it into a ``Flavor``."""

    name: ClassVar[str] = "lightning"
    safe = True
    #: register_model reads the run's lightning.json beside the weights.
    reads_description = True
    description_file = "lightning.json"

    def save(self, model: Any):
        """An in-memory module's ``state_dict`` and hparams (``flavor="lightning"``)."""
        from jupyter_mlops.registry.flavors import SavedModel

        if not _is_torch_module(model):
            raise InvalidInputError(f"A {type(model).__name__} is not a torch module; the "
                                    "lightning flavor stores a LightningModule's weights.")
        from jupyter_mlops.tracking.autolog.lightning_fit import weight_files

        (_, native), (_, about) = weight_files(model)
        description = json.loads(about)
        return SavedModel(bundle(native, description), self.name,
                          description["module_class"])

    def inspect(self, data: bytes):
        """Check the header and read the tensors (when torch is installed)."""
        from jupyter_mlops.registry.flavors import SavedModel

        header, native = split(data)
        _weights_format(native)
        try:
            state_dict(native)
        except ImportError:  # registering where torch is not installed: checked above
            pass
        return SavedModel(data, self.name, _shown_class(header or {}))

    def with_description(self, saved, description: Any):
        """The weights behind the header the run's lightning.json calls for."""
        from jupyter_mlops.registry.flavors import SavedModel

        if saved.data.startswith(MAGIC) or not isinstance(description, dict):
            return saved
        data = bundle(saved.data, description)
        return SavedModel(data, self.name, _shown_class(description))

    def load(self, data: bytes, *, trusted: bool = False,
             trusted_types: Iterable[str] = ()) -> Any:
        """The state dict: a dict of tensors. Not the module: its class would have to come
        from the file, and importing a class an artifact names runs code its writer chose;
        ``load_into`` takes the class from you."""
        return state_dict(split(data)[1])

    def load_into(self, data: bytes, module: Any) -> Any:
        header, native = split(data)
        target = build(module, header)
        state = state_dict(native)
        try:
            target.load_state_dict(state, strict=True)
        except Exception as exc:  # missing/unexpected keys, shape mismatches
            raise InvalidInputError(f"The version's weights do not fit this "
                                    f"{type(target).__name__}: {_one_line(exc)}") from None
        return target

    def predict_function(self, model: Any) -> Callable:
        if isinstance(model, dict):
            def refuse(data: Any, **kwargs: Any) -> Any:
                raise InvalidInputError(
                    "This is a state dict, which cannot predict: load the version with "
                    "module=<your LightningModule class or instance>.")

            return refuse
        return _forward(model)


def _is_torch_module(model: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _forward(module: Any) -> Callable:
    """``predict(data)``: the module's forward pass in eval mode without gradients, on a
    tensor made from an array or DataFrame (floats as the module's parameters' dtype)."""

    def predict(data: Any, **kwargs: Any) -> Any:
        import numpy as np
        import torch

        x = data if isinstance(data, torch.Tensor) else torch.as_tensor(
            np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data))
        dtype = next((p.dtype for p in module.parameters()), None)
        if dtype is not None and x.is_floating_point():
            x = x.to(dtype)
        module.eval()
        with torch.no_grad():
            out = module(x, **kwargs)
        return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out

    return predict
