"""Bounds on what a zip archive (a model file, a stored profile) may inflate to.

A zip read from the store is untrusted: a 2 MB member can claim — and deflate to — 2 GB. Every
zip the package opens is therefore checked by :func:`check_zip` *before* any member is
decompressed, from its central directory:

* the sum of the members' uncompressed sizes is at most ``MLOPS_ARCHIVE_MAX_BYTES``;
* beyond :data:`RATIO_FLOOR` (16 MiB), neither the whole archive nor any one member inflates
  more than ``MLOPS_ARCHIVE_MAX_RATIO`` times its compressed size. Below the floor the ratio
  is free: a model with mostly-zero coefficients legitimately deflates 1000:1, and 16 MiB
  cannot hurt. The whole-archive check stops many small members adding up; the per-member
  check stops one bomb member hiding among large stored ones;
* JSON members (parsed whole, at several times their size in memory) are at most a sixteenth
  of the byte limit;
* the compressed sizes add up to no more than the file itself (overlapping members are the
  trick behind "non-recursive" zip bombs).

Why the central directory is enough: :mod:`zipfile` never returns more than a member's
declared uncompressed size (it stops there and checks the CRC), and NumPy reads ``.npy``
members through it in bounded chunks, so the declared sizes bound what can ever be
inflated. A member whose real content is longer than declared fails its CRC check instead.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import zipfile

from jupyter_mlops.errors import ArchiveLimitError, InvalidInputError

ENV_MAX_BYTES = "MLOPS_ARCHIVE_MAX_BYTES"
ENV_MAX_RATIO = "MLOPS_ARCHIVE_MAX_RATIO"
#: 1 GiB. Measured: the demo's 100-tree forest inflates to 0.4 MiB (sklearn-trees) or
#: 1.1 MiB (skops); a 100-tree forest fitted on 100,000 rows × 30 features to 86 MiB.
DEFAULT_MAX_BYTES = 1 << 30
#: The registry writes zips stored (1:1). Deflated skops files of the same models measured
#: 17:1 to 62:1; 200:1 leaves room, while a zip bomb reaches about 1000:1.
DEFAULT_MAX_RATIO = 200.0
#: Inflated sizes up to this are not ratio-checked (their absolute size cannot hurt).
RATIO_FLOOR = 16 << 20
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclasses.dataclass(frozen=True)
class Limits:
    """The byte and ratio limits in force (see :func:`limits`)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_ratio: float = DEFAULT_MAX_RATIO

    @property
    def max_json_bytes(self) -> int:
        return self.max_bytes // 16


def parse_size(text: str) -> int:
    """``"2147483648"``, ``"2G"``, ``"512 MiB"`` → bytes (binary units)."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(text)
    unit = (m.group(2) or "").lower()[:1]
    return int(float(m.group(1)) * _UNITS[unit])


def limits() -> Limits:
    """The limits from ``MLOPS_ARCHIVE_MAX_BYTES`` / ``MLOPS_ARCHIVE_MAX_RATIO`` or defaults.

    Raises
    ------
    InvalidInputError
        A variable is set to something that is not a positive size or number.
    """
    max_bytes, max_ratio = DEFAULT_MAX_BYTES, DEFAULT_MAX_RATIO
    raw = os.environ.get(ENV_MAX_BYTES, "").strip()
    if raw:
        try:
            max_bytes = parse_size(raw)
        except ValueError:
            max_bytes = 0
        if max_bytes <= 0:
            raise InvalidInputError(
                f"{ENV_MAX_BYTES}={raw[:40]!r} is not a size: use bytes or a unit, e.g. 2G.")
    raw = os.environ.get(ENV_MAX_RATIO, "").strip()
    if raw:
        try:
            max_ratio = float(raw)
        except ValueError:
            max_ratio = 0.0
        if not max_ratio >= 1 or max_ratio == float("inf"):
            raise InvalidInputError(
                f"{ENV_MAX_RATIO}={raw[:40]!r} is not a ratio: use a number ≥ 1, e.g. 500.")
    return Limits(max_bytes, max_ratio)


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def check_zip(data: bytes, what: str, json_members: tuple[str, ...] = (),
              limit: Limits | None = None) -> None:
    """Refuse ``data`` if, as a zip, it would inflate past the limits; decompress nothing.

    Parameters
    ----------
    data : bytes
        The archive.
    what : str
        What it is, for the message ("skops model file").
    json_members : tuple of str
        Members parsed whole as JSON (held to :attr:`Limits.max_json_bytes`).
    limit : Limits, optional
        Default: :func:`limits`.

    Raises
    ------
    ArchiveLimitError
        A limit is exceeded; the message names it, the size seen and the variable that
        raises it.
    InvalidInputError
        ``data`` is not a readable zip (or its entries overlap).
    """
    lim = limit or limits()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError) as exc:
        raise InvalidInputError(f"This is not a readable {what}: {exc}.") from None
    total = sum(i.file_size for i in infos)
    if total > lim.max_bytes:
        raise ArchiveLimitError(
            f"Refused this {what}: it would inflate to {_mib(total)}, above the limit of "
            f"{_mib(lim.max_bytes)}. Nothing was decompressed. If you trust it, raise the "
            f"limit with {ENV_MAX_BYTES} (e.g. {ENV_MAX_BYTES}=4G).")
    if sum(i.compress_size for i in infos) > len(data):
        raise InvalidInputError(
            f"This is not a valid {what}: its members' compressed sizes "
            f"add up to more than the file's {len(data)} bytes (overlapping entries, a zip "
            "bomb technique). Nothing was decompressed.")
    for i in infos:
        if i.file_size > RATIO_FLOOR and i.file_size > lim.max_ratio * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise ArchiveLimitError(
                f"Refused this {what}: its member {i.filename[:100]!r} would inflate "
                f"{ratio:,.0f} times ({_mib(i.compress_size)} → {_mib(i.file_size)}), above "
                f"the ratio limit of {lim.max_ratio:g}. Nothing was decompressed. If you "
                f"trust it, raise the limit with {ENV_MAX_RATIO}.")
        if i.filename in json_members and i.file_size > lim.max_json_bytes:
            raise ArchiveLimitError(
                f"Refused this {what}: its {i.filename[:100]!r} is {_mib(i.file_size)} of JSON, "
                f"above the limit of {_mib(lim.max_json_bytes)} (a sixteenth of "
                f"{ENV_MAX_BYTES}). Nothing was decompressed. If you trust it, raise "
                f"{ENV_MAX_BYTES}.")
    if total > RATIO_FLOOR and total > lim.max_ratio * len(data):
        raise ArchiveLimitError(
            f"Refused this {what}: its {len(infos)} members would inflate "
            f"{total / len(data):,.0f} times ({_mib(len(data))} → {_mib(total)}), above the "
            f"ratio limit of {lim.max_ratio:g}. Nothing was decompressed. If you trust it, "
            f"raise the limit with {ENV_MAX_RATIO}.")
