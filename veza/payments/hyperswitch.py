"""The Hyperswitch gateway: payments and refunds over Hyperswitch's REST API (aiohttp).

Idempotency comes from the ids: Hyperswitch lets the merchant choose a payment's
`payment_id` and a refund's `refund_id`, and refuses a second object with the same
id (400, code HE_01). Both ids are derived from our idempotency key, so a repeated
call cannot make a second payment or refund: on HE_01 the existing object is
fetched and returned. For the same reason a call whose connection failed (refused,
reset, closed before the answer) is sent once more; a timeout or a 5xx is not
retried here, the caller's own retry (a later job) covers it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable
from typing import Any, Self

import aiohttp
import yarl

from veza.payments.gateway import GatewayRefused, GatewayUnavailable, Payment, Refund
from veza.settings import ConfigError, Settings

log = logging.getLogger(__name__)

# Hyperswitch's merchant-chosen ids: letters, digits, `_` and `-`, 1 to 64 characters; its
# API reference documents them 30 characters long, which ours are (a prefix and 26 hex digits).
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DUPLICATE = "HE_01"


def derived_id(prefix: str, idempotency_key: str) -> str:
    """A Hyperswitch id of 30 characters that only this idempotency key gives."""
    return f"{prefix}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:26]}"


class HyperswitchRefused(GatewayRefused):
    """Hyperswitch answered 4xx; its own status, code (IR_04, HE_01...) and message are kept."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        self.upstream_status, self.upstream_code, self.upstream_message = status, code, message
        super().__init__(f"The payment service refused the request: {message}")


class HyperswitchGateway:
    name = "hyperswitch"

    def __init__(self, base_url: str, api_key: str, *, connect_timeout: float = 3.0, timeout: float = 10.0) -> None:
        self._base = yarl.URL(base_url)
        self._headers = {"api-key": api_key, "Accept": "application/json"}
        self._timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.hyperswitch_api_key:
            raise ConfigError("HYPERSWITCH_API_KEY is required when PAYMENT_GATEWAY is hyperswitch")
        return cls(
            settings.hyperswitch_base_url,
            settings.hyperswitch_api_key,
            connect_timeout=settings.gateway_connect_timeout,
            timeout=settings.gateway_timeout,
        )

    def __repr__(self) -> str:  # never the api key
        return f"HyperswitchGateway({str(self._base)!r})"

    async def create_payment(
        self, *, amount: int, currency: str, idempotency_key: str, description: str, metadata: dict[str, str]
    ) -> Payment:
        payment_id = derived_id("pay", idempotency_key)
        body = {
            "payment_id": payment_id,
            "amount": amount,
            "currency": currency,
            "confirm": False,
            "capture_method": "automatic",
            "description": description,
            "metadata": metadata,
        }
        payment = _payment(await self._within_deadline("payments", self._create_or_fetch("payments", body, payment_id)))
        if (payment.amount, payment.currency) != (amount, currency):
            # Only a key reused for another amount gets here (the caller refuses that before us).
            raise GatewayRefused(f"Payment {payment_id} already exists for another amount or currency")
        return payment

    async def retrieve_payment(self, payment_id: str) -> Payment:
        _check_id(payment_id)
        return _payment(await self._within_deadline("payments", self._call("GET", "payments", payment_id)))

    async def create_refund(
        self, *, payment_id: str, amount: int, idempotency_key: str, reason: str, metadata: dict[str, str]
    ) -> Refund:
        _check_id(payment_id)
        refund_id = derived_id("ref", idempotency_key)
        body = {
            "payment_id": payment_id,
            "refund_id": refund_id,
            "amount": amount,
            "reason": reason,
            "metadata": metadata,
        }
        refund = _refund(await self._within_deadline("refunds", self._create_or_fetch("refunds", body, refund_id)))
        if (refund.payment_id, refund.amount) != (payment_id, amount):
            raise GatewayRefused(f"Refund {refund_id} already exists for another payment or amount")
        return refund

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._client_timeout)
        return self._session

    async def _within_deadline(self, collection: str, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """`call`, all its requests included, within GATEWAY_TIMEOUT; past it the gateway is unavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except TimeoutError:
            log.warning("Hyperswitch /%s: no answer within %s s", collection, self._timeout)
            raise GatewayUnavailable("The payment service did not answer in time") from None

    async def _create_or_fetch(self, collection: str, body: dict[str, Any], object_id: str) -> dict[str, Any]:
        """POST the object with our own id; if Hyperswitch already has that id, the object it has."""
        try:
            return await self._call("POST", collection, body=body)
        except HyperswitchRefused as exc:
            if exc.upstream_code != _DUPLICATE:
                raise
        log.info("Hyperswitch /%s: %s exists already, fetching it", collection, object_id)
        return await self._call("GET", collection, object_id)

    async def _call(
        self, method: str, collection: str, object_id: str | None = None, *, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One API call, sent a second time only if the connection failed before an answer."""
        url = self._base.joinpath(collection, *filter(None, [object_id]))
        try:
            try:
                return await self._send(method, url, body)
            except aiohttp.ClientConnectionError as exc:
                if isinstance(exc, TimeoutError):
                    raise
                log.warning("Hyperswitch %s /%s: %s, sending it again", method, collection, type(exc).__name__)
                return await self._send(method, url, body)
        except TimeoutError:
            raise  # the deadline's to report
        except aiohttp.ClientError as exc:
            log.warning("Hyperswitch %s /%s: %s", method, collection, type(exc).__name__)
            raise GatewayUnavailable("The payment service cannot be reached") from None
        except HyperswitchRefused as exc:
            if exc.upstream_code != _DUPLICATE:
                # 401/403: our key is wrong (HYPERSWITCH_API_KEY), not the request: an operator must act.
                level = logging.ERROR if exc.upstream_status in (401, 403) else logging.WARNING
                log.log(
                    level,
                    "Hyperswitch %s /%s refused: %s %s",
                    method,
                    collection,
                    exc.upstream_code,
                    exc.upstream_message,
                )
            raise
        except GatewayUnavailable as exc:
            log.warning("Hyperswitch %s /%s: %s", method, collection, exc.message)
            raise

    async def _send(self, method: str, url: yarl.URL, body: dict[str, Any] | None) -> dict[str, Any]:
        async with self._client().request(method, url, json=body, allow_redirects=False) as response:
            raw = await response.read()
            status = response.status
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = None
        if 200 <= status < 300:
            if isinstance(answer, dict):
                return answer
            raise GatewayUnavailable("The payment service gave an unreadable answer")
        if status == 429:  # Hyperswitch's rate limit: the same call will pass a little later
            raise GatewayUnavailable("The payment service is limiting our requests; try again shortly")
        if 400 <= status < 500:
            code, message = _error(answer)
            raise HyperswitchRefused(status, code, message or f"HTTP {status}")
        raise GatewayUnavailable(f"The payment service failed (HTTP {status})")


def _check_id(value: str) -> None:
    if not _ID.fullmatch(value):
        raise GatewayRefused("Not a Hyperswitch id")


def _error(answer: Any) -> tuple[str | None, str | None]:
    """Hyperswitch's `{"error": {"type", "message", "code"}}`, or None for what it cannot read."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        return _text(error.get("code")), _text(error.get("message"))
    return None, _text(error)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _payment(answer: dict[str, Any]) -> Payment:
    try:
        return Payment(
            payment_id=str(answer["payment_id"]),
            client_secret=answer.get("client_secret"),
            status=str(answer["status"]),
            amount=int(answer["amount"]),
            currency=str(answer["currency"]),
            metadata=_metadata(answer.get("metadata")),
        )
    except (KeyError, TypeError, ValueError):
        raise GatewayUnavailable("The payment service gave an unreadable answer") from None


def _refund(answer: dict[str, Any]) -> Refund:
    try:
        return Refund(
            refund_id=str(answer["refund_id"]),
            payment_id=str(answer["payment_id"]),
            status=str(answer["status"]),
            amount=int(answer["amount"]),
            currency=str(answer["currency"]),
            metadata=_metadata(answer.get("metadata")),
        )
    except (KeyError, TypeError, ValueError):
        raise GatewayUnavailable("The payment service gave an unreadable answer") from None
