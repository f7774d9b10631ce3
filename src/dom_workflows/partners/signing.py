"""Partner webhook signatures: X-DOM-Signature = hex HMAC-SHA256(secret, timestamp + "." + body).

The timestamp (X-DOM-Timestamp, Unix seconds) is inside the MAC, so a captured request cannot be
replayed after the tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-DOM-Timestamp"
SIGNATURE_HEADER = "X-DOM-Signature"
TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    """Why a request's signature was refused (missing, stale, malformed or wrong)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    ts = str(int(now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    """Raise BadSignature unless the signature is right and fresh."""
    if not timestamp or not signature:
        raise BadSignature(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    try:
        ts = int(timestamp)
    except ValueError:
        raise BadSignature(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp!r}") from None
    if abs(now - ts) > TOLERANCE_SECONDS:
        raise BadSignature(
            f"timestamp is {int(abs(now - ts))} s away from now (limit {TOLERANCE_SECONDS} s)"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.lower()):
        raise BadSignature("signature does not match the body")
