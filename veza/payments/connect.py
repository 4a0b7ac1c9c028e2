"""The Connect gateway interface (payouts to sellers), chosen by the CONNECT_GATEWAY setting.

`sandbox` (veza.payments.sandbox_connect) or `stripe` (Stripe Connect, Express accounts). Amounts are
integer cents; every write takes an idempotency key derived from our own row id, so a retried call
never creates a second account, transfer or reversal. Errors are the payment gateways':
GatewayUnavailable (try again later) and GatewayRefused (the gateway said no: retrying the same call
will not help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ConnectAccount:
    account_id: str
    connected: bool  # onboarding done: transfers may be sent to it


@dataclass(frozen=True)
class Balance:
    available: int  # cents
    pending: int
    currency: str


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    destination: str
    amount: int
    currency: str
    amount_reversed: int = 0


@dataclass(frozen=True)
class Reversal:
    reversal_id: str
    transfer_id: str
    amount: int


class ConnectGateway(Protocol):
    name: str

    async def create_account(self, *, email: str, idempotency_key: str) -> ConnectAccount: ...

    async def retrieve_account(self, account_id: str) -> ConnectAccount: ...

    async def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str: ...

    async def balance(self, account_id: str, currency: str) -> Balance: ...

    async def create_transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> Transfer: ...

    async def reverse_transfer(self, transfer_id: str, *, amount: int, idempotency_key: str) -> Reversal: ...

    async def close(self) -> None: ...
