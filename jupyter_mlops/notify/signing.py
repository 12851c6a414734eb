"""Signing webhook payloads (HMAC-SHA256) and checking a signature on the receiving side.

The signed message is ``<timestamp>.<body>``: the timestamp travels in ``X-Mlops-Timestamp``
and a receiver refuses one older than its tolerance, so a captured request cannot be
replayed later; the signature travels as ``X-Mlops-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Mlops-Signature"
TIMESTAMP_HEADER = "X-Mlops-Timestamp"
#: Receivers should refuse a request whose timestamp is further than this from their clock.
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``)."""
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | int, body: bytes, signature: str, *,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """True when ``signature`` is ``body``'s at ``timestamp`` and the timestamp is fresh.

    For receivers (and tests): compares in constant time; a timestamp that is not an integer
    or is further than ``tolerance`` seconds from ``now`` is refused, stopping replays.
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), str(signature))
