"""XGBoost's Universal Binary JSON model files (``save_model("model.ubj")``), checked before
XGBoost reads them.

XGBoost's UBJSON reader (``UBJReader`` in its ``src/common/json.cc``) believes the lengths in
the file: a string or array longer than the bytes left makes it read past the end of the
buffer, an unterminated array makes it loop, and deep nesting recurses on the C++ stack. So
the registry decodes the whole document first, in Python, by the same grammar but strictly —
every length within the bytes left, nesting at most :data:`MAX_DEPTH`, nothing after the
document — and only a file that passes (and then :mod:`.xgboost_check`) reaches XGBoost, as
a JSON model reaches it only after Python's ``json`` has parsed it. Typed arrays decode to
NumPy arrays over the file's bytes (no copy).

The grammar (what XGBoost writes and reads): a value is ``Z`` (null), ``T``/``F``, ``i U C``
(1 byte), ``I`` (2), ``l`` or ``d`` (4), ``L`` or ``D`` (8, big-endian), ``S`` + a string,
``{`` + (string key, value)* + ``}``, or ``[`` followed by ``$<type>#L<int64 n>`` and n raw
values of a numeric type, by ``#L<int64 n>`` and n values, or by values up to ``]``. A
string is ``L`` + an int64 byte count + the bytes.
"""

from __future__ import annotations

import struct
from typing import Any

from jupyter_mlops.errors import InvalidInputError

MAX_DEPTH = 32
#: Scalar markers: (size, struct format); ``Z T F`` carry no bytes.
_SCALARS = {b"i": (1, ">b"), b"U": (1, ">B"), b"C": (1, ">B"), b"I": (2, ">h"),
            b"l": (4, ">i"), b"L": (8, ">q"), b"d": (4, ">f"), b"D": (8, ">d")}
_CONSTANTS = {b"Z": None, b"T": True, b"F": False}
#: Typed array element markers: NumPy dtype (big-endian, as written).
_TYPED = {b"i": "i1", b"U": "u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4",
          b"D": ">f8"}


def looks_like_ubjson(data: bytes) -> bool:
    """True when XGBoost would read ``data`` as UBJSON rather than JSON: an object whose
    first key (or end) follows the brace at once, never the case in JSON text."""
    return data[:2] in (b"{L", b"{}")


def loads(data: bytes) -> dict[str, Any]:
    """The document, decoded as XGBoost's reader would read it.

    Raises
    ------
    InvalidInputError
        Anything that reader should not be given, in one line.
    """
    try:
        return _decode(_Reader(data))
    except _Bad as exc:
        raise InvalidInputError(f"This is not a readable xgboost model file: not UBJSON "
                                f"({exc}).") from None


class _Bad(Exception):
    pass


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def marker(self) -> bytes:
        if self.pos >= len(self.data):
            raise _Bad("the file ends inside the document")
        self.pos += 1
        return self.data[self.pos - 1:self.pos]

    def peek(self) -> bytes:
        return self.data[self.pos:self.pos + 1]

    def take(self, n: int, what: str) -> int:
        """Move past ``n`` bytes; their start."""
        if n > self.left():
            raise _Bad(f"{what} at byte {self.pos} runs past the end of the file")
        self.pos += n
        return self.pos - n

    def count(self, what: str) -> int:
        """An ``L`` + int64 length, at most the bytes left."""
        start = self.pos
        if self.marker() != b"L":
            raise _Bad(f"{what} at byte {start} has no int64 ('L') length")
        (n,) = struct.unpack_from(">q", self.data, self.take(8, what))
        if not 0 <= n <= self.left():
            raise _Bad(f"{what} at byte {start} claims {n} items, with {self.left()} bytes left")
        return n

    def text(self, what: str) -> str:
        n = self.count(what)
        start = self.take(n, what)
        return self.data[start:start + n].decode("utf-8", "replace")


def _decode(reader: _Reader) -> dict[str, Any]:
    if reader.marker() != b"{":
        raise _Bad("it does not start with an object")
    root: dict[str, Any] = {}
    # Each open container: [kind, container, items left]; kind "{" or "[" ends with its
    # closing marker, "#" after a count.
    stack: list[list] = [[b"{", root, 0]]
    while stack:
        frame = stack[-1]
        kind, container = frame[0], frame[1]
        if kind == b"#":
            if frame[2] == 0:
                stack.pop()
                continue
            frame[2] -= 1
        elif reader.peek() == (b"}" if kind == b"{" else b"]"):
            reader.pos += 1
            stack.pop()
            continue
        key = reader.text("an object key") if kind == b"{" else None
        where = reader.pos
        marker = reader.marker()
        child = None
        value: Any
        if marker in _CONSTANTS:
            value = _CONSTANTS[marker]
        elif marker in _SCALARS:
            size, fmt = _SCALARS[marker]
            (value,) = struct.unpack_from(fmt, reader.data, reader.take(size, "a number"))
        elif marker == b"S":
            value = reader.text("a string")
        elif marker in (b"{", b"["):
            if len(stack) >= MAX_DEPTH:
                raise _Bad(f"nesting deeper than {MAX_DEPTH} at byte {where}")
            value, child = _open(reader, marker)
        else:
            raise _Bad(f"unknown marker {marker!r} at byte {where}")
        if key is None:
            container.append(value)
        else:
            container[key] = value
        if child is not None:
            stack.append(child)
    if reader.left():
        raise _Bad(f"{reader.left()} bytes follow the document")
    return root


def _open(reader: _Reader, marker: bytes) -> tuple[Any, list | None]:
    """A container just opened: ``(value, frame to fill it)``; a typed array is read whole
    (no frame)."""
    if marker == b"{":
        value: dict[str, Any] = {}
        return value, [b"{", value, 0]
    items: list[Any] = []
    if reader.peek() == b"$":
        import numpy as np

        reader.pos += 1
        kind = reader.marker()
        if kind not in _TYPED:
            raise _Bad(f"typed array of {kind!r} at byte {reader.pos - 1}")
        if reader.marker() != b"#":
            raise _Bad(f"typed array without a count at byte {reader.pos - 1}")
        dtype = np.dtype(_TYPED[kind])
        n = reader.count("a typed array")
        start = reader.take(n * dtype.itemsize, "a typed array")
        return np.frombuffer(reader.data, dtype=dtype, count=n, offset=start), None
    if reader.peek() == b"#":
        reader.pos += 1
        return items, [b"#", items, reader.count("an array")]
    return items, [b"[", items, 0]
