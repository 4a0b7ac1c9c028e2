"""The payment gateway interface, chosen by the PAYMENT_GATEWAY setting.

Both gateways speak Hyperswitch's vocabulary: a payment is created with an
amount in the currency's minor unit and an idempotency key derived from our
own row id; its outcome arrives later as a signed webhook
(`veza.payments.webhooks`). Amounts are integer cents, currencies ISO codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from veza.errors import ApiError, Unavailable


@dataclass(frozen=True)
class Payment:
    payment_id: str
    client_secret: str | None
    status: str  # Hyperswitch's: requires_payment_method, processing, succeeded, failed...
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    refund_id: str
    payment_id: str
    status: str  # pending, succeeded, failed
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)


class GatewayUnavailable(Unavailable):
    """The gateway did not answer in time, or answered 5xx: the same call may be retried later."""

    message = "The payment service is unavailable"


class GatewayRefused(ApiError):
    """The gateway answered 4xx: retrying the same call will not help."""

    status, code, message = 502, "payment_refused", "The payment service refused the request"


class PaymentGateway(Protocol):
    name: str

    async def create_payment(
        self, *, amount: int, currency: str, idempotency_key: str, description: str, metadata: dict[str, str]
    ) -> Payment: ...

    async def retrieve_payment(self, payment_id: str) -> Payment: ...

    async def create_refund(
        self, *, payment_id: str, amount: int, idempotency_key: str, reason: str, metadata: dict[str, str]
    ) -> Refund: ...

    async def close(self) -> None: ...
