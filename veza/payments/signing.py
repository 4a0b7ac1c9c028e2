"""Hyperswitch's webhook signature: a hex HMAC-SHA512 of the raw body, keyed with the webhook secret
(Hyperswitch's "payment response hash key"), sent in X-Webhook-Signature-512."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADERS = ("X-Webhook-Signature-512", "X-Hyperswitch-Signature")  # the second: the API reference's name


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def valid_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the body's, compared in constant time."""
    if not signature:
        return False
    given = signature.strip().lower().encode("utf-8", "replace")  # bytes: any text compares, never raises
    return hmac.compare_digest(sign(secret, body).encode(), given)
