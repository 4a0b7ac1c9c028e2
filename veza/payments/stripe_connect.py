"""The Stripe Connect gateway: Express accounts, onboarding links, balances, transfers and reversals.

It speaks to Stripe through the official `stripe` package (`StripeClient` over its aiohttp client,
the `*_async` calls). Every write carries the caller's idempotency key, so a call retried after a
timeout or a crash makes no second account, transfer or reversal: Stripe answers it with the first
result. (Stripe keeps that result, a refusal included, for at least 24 hours.) The client does not
retry by itself (`max_network_retries=0`): our jobs retry, with the same key.

Stripe's errors become ours: no answer in time, a lost connection, a 5xx, its rate limit or an
idempotency key still in use (409) are GatewayUnavailable (try again later); a refusal of the
request itself (400/402/403/404: invalid request, card or permission error) is GatewayRefused with
Stripe's message. A 401 means our secret key is wrong: it is logged as an error and reported
unavailable, since no retry of ours can fix it before an operator does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Self

import aiohttp
import stripe

from veza.payments.connect import Balance, ConnectAccount, Reversal, Transfer
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.payments.stripe_webhooks import account_connected
from veza.settings import ConfigError, Settings

log = logging.getLogger(__name__)

REFUSALS = (stripe.InvalidRequestError, stripe.CardError, stripe.PermissionError, stripe.IdempotencyError)


class StripeConnect:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = stripe.DEFAULT_API_BASE,
        connect_timeout: float = 3.0,
        timeout: float = 10.0,
    ) -> None:
        self._timeout = timeout
        http_client = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout))
        self._client = stripe.StripeClient(
            api_key, http_client=http_client, base_addresses={"api": api_base}, max_network_retries=0
        )
        self._http_client = http_client
        self._api_base = api_base

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.stripe_secret_key:
            raise ConfigError("STRIPE_SECRET_KEY is required when CONNECT_GATEWAY is stripe")
        return cls(
            settings.stripe_secret_key,
            api_base=settings.stripe_api_base,
            connect_timeout=settings.gateway_connect_timeout,
            timeout=settings.gateway_timeout,
        )

    def __repr__(self) -> str:  # never the key
        return f"StripeConnect({self._api_base!r})"

    async def create_account(self, *, email: str, idempotency_key: str) -> ConnectAccount:
        account = await self._call(
            "create account",
            self._client.v1.accounts.create_async(
                {"type": "express", "email": email, "capabilities": {"transfers": {"requested": True}}},
                {"idempotency_key": idempotency_key},
            ),
        )
        return ConnectAccount(_text(account, "id"), account_connected(account))

    async def retrieve_account(self, account_id: str) -> ConnectAccount:
        account = await self._call("retrieve account", self._client.v1.accounts.retrieve_async(account_id))
        return ConnectAccount(_text(account, "id"), account_connected(account))

    async def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        # An account link is a single-use URL that expires within minutes: one is made per request,
        # with a fresh idempotency key (the package's own), never a replay of an old link.
        link = await self._call(
            "create account link",
            self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                }
            ),
        )
        return _text(link, "url")

    async def balance(self, account_id: str, currency: str) -> Balance:
        balance = await self._call(
            "retrieve balance", self._client.v1.balance.retrieve_async(options={"stripe_account": account_id})
        )
        return Balance(_sum(balance, "available", currency), _sum(balance, "pending", currency), currency)

    async def create_transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> Transfer:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
        }
        if source_transaction:
            params["source_transaction"] = source_transaction
        transfer = await self._call(
            "create transfer",
            self._client.v1.transfers.create_async(params, {"idempotency_key": idempotency_key}),  # type: ignore[arg-type]
        )
        return Transfer(
            _text(transfer, "id"),
            _text(transfer, "destination"),
            _amount(transfer, "amount"),
            _text(transfer, "currency").upper(),
            _amount(transfer, "amount_reversed"),
        )

    async def reverse_transfer(self, transfer_id: str, *, amount: int, idempotency_key: str) -> Reversal:
        reversal = await self._call(
            "reverse transfer",
            self._client.v1.transfers.reversals.create_async(
                transfer_id, {"amount": amount}, {"idempotency_key": idempotency_key}
            ),
        )
        return Reversal(_text(reversal, "id"), _text(reversal, "transfer"), _amount(reversal, "amount"))

    async def close(self) -> None:
        await self._http_client.close_async()

    async def _call(self, what: str, call: Awaitable[stripe.StripeObject]) -> dict[str, Any]:
        """`call`'s object as plain data, within GATEWAY_TIMEOUT (the body's reading included), Stripe's
        errors made ours."""
        try:
            async with asyncio.timeout(self._timeout):
                return (await call).to_dict()
        except TimeoutError:
            log.warning("Stripe %s: no answer within %s s", what, self._timeout)
            raise GatewayUnavailable("The payout service did not answer in time") from None
        except aiohttp.ClientError as exc:  # the connection broke while the answer was read
            log.warning("Stripe %s: %s", what, type(exc).__name__)
            raise GatewayUnavailable("The payout service cannot be reached") from None
        except REFUSALS as exc:
            log.warning("Stripe %s refused: %s %s", what, exc.code, exc.user_message)
            raise GatewayRefused(f"The payout service refused the request: {exc.user_message}") from None
        except stripe.AuthenticationError:
            log.error("Stripe %s: the secret key was refused (STRIPE_SECRET_KEY)", what)
            raise GatewayUnavailable("The payout service is unavailable") from None
        except stripe.APIConnectionError as exc:  # refused, reset, or aiohttp's own timeouts
            log.warning("Stripe %s: %s", what, exc.user_message.splitlines()[-1] if exc.user_message else "no answer")
            raise GatewayUnavailable("The payout service cannot be reached or did not answer in time") from None
        except (stripe.RateLimitError, stripe.APIError) as exc:
            log.warning("Stripe %s: %s (HTTP %s)", what, type(exc).__name__, exc.http_status)
            raise GatewayUnavailable("The payout service is unavailable") from None
        except stripe.StripeError as exc:  # anything else Stripe may add: not the request's fault
            log.warning("Stripe %s: %s (HTTP %s)", what, type(exc).__name__, exc.http_status)
            raise GatewayUnavailable("The payout service is unavailable") from None


def _text(answer: dict[str, Any], field: str) -> str:
    value = answer.get(field)
    if not isinstance(value, str) or not value:
        raise GatewayUnavailable("The payout service gave an unreadable answer")
    return value


def _amount(answer: dict[str, Any], field: str) -> int:
    value = answer.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayUnavailable("The payout service gave an unreadable answer")
    return value


def _sum(balance: dict[str, Any], kind: str, currency: str) -> int:
    """The amounts of `currency` in the balance's `available` or `pending` funds (one per source type)."""
    funds = balance.get(kind) or []
    if not isinstance(funds, list):
        raise GatewayUnavailable("The payout service gave an unreadable answer")
    wanted = currency.lower()
    return sum(_amount(fund, "amount") for fund in funds if isinstance(fund, dict) and fund.get("currency") == wanted)
