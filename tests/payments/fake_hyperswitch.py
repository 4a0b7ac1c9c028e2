"""A local Hyperswitch: the part of its REST API that veza uses, kept in memory.

It answers as Hyperswitch's API reference and server code do: the secret key in an
`api-key` header (401 IR_01 otherwise); `POST /payments`, `GET /payments/{id}`,
`POST /refunds`, `GET /refunds/{id}`; merchant-chosen `payment_id` and `refund_id`
(1 to 64 of `[A-Za-z0-9_-]`; an id already taken is a 400 HE_01, never a second
object); unknown body fields refused (its request types deny them); errors as
`{"error": {"type", "message", "code"}}`. A payment is created unconfirmed
(`requires_payment_method`); `settle()` plays the customer paying, after which it
can be refunded. Every request is recorded, and the next calls can be made to
fail with a 5xx, to drop the connection, or to hang until `release()`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

_ID = re.compile(r"[A-Za-z0-9_-]+")
_MAX_ID = 64
PAYMENT_FIELDS = {
    "payment_id", "amount", "currency", "confirm", "capture_method", "description", "metadata",
    "customer_id", "return_url", "statement_descriptor_name", "statement_descriptor_suffix",
}  # fmt: skip
REFUND_FIELDS = {"payment_id", "refund_id", "merchant_id", "amount", "reason", "refund_type", "metadata"}
CAPTURE_METHODS = {"automatic", "manual", "manual_multiple", "scheduled", "sequential_automatic"}
REFUNDABLE = ("succeeded", "partially_captured")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: CIMultiDict[str]
    json: Any  # the parsed body; None without one (or when it was not JSON)


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _deserialize_error(message: str) -> Refusal:
    return Refusal(400, "IR_06", f"Json deserialize error: {message}")


def _check_id(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _deserialize_error(f"invalid type for `{field}`, expected a string")
    value = value.strip()
    if len(value) > _MAX_ID:
        raise _deserialize_error(f"the maximum allowed length for this field is {_MAX_ID}")
    if not value:
        raise _deserialize_error("the minimum required length for this field is 1")
    if not _ID.fullmatch(value):
        bad = next(c for c in value if not _ID.fullmatch(c))
        raise _deserialize_error(f"value `{value}` contains invalid character `{bad}`")
    return value


def _check_amount(value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _deserialize_error(f"invalid value: `{value}` for `amount`, expected an integer >= {minimum}")
    return value


def _check_optional(body: dict[str, Any], field: str, kind: type) -> None:
    if body.get(field) is not None and not isinstance(body[field], kind):
        raise _deserialize_error(f"invalid type for `{field}`, expected {kind.__name__}")


class FakeHyperswitch:
    def __init__(self, api_key: str = "snd_fake_secret_key") -> None:
        self.api_key = api_key
        self.merchant_id = "merchant_veza_test"
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self._faults: list[int | str] = []  # one per coming request: a 5xx status, "drop" or "hang"
        self._released = asyncio.Event()
        self._in_flight = 0
        self._quiet = asyncio.Condition()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._edge])
        app.router.add_post("/payments", self._create_payment)
        app.router.add_get("/payments/{payment_id}", self._retrieve_payment)
        app.router.add_post("/refunds", self._create_refund)
        app.router.add_get("/refunds/{refund_id}", self._retrieve_refund)
        return app

    # What tests tell it.

    def fail_next(self, count: int, status: int = 500) -> None:
        self._faults += [status] * count

    def drop_next(self, count: int) -> None:
        """Close the connection of the next requests without answering (before doing anything)."""
        self._faults += ["drop"] * count

    def hang_next(self, count: int) -> None:
        """Hold the next requests until `release()`; then they are carried out, the answer too late."""
        self._faults += ["hang"] * count

    def release(self) -> None:
        self._released.set()

    async def quiet(self) -> None:
        """Wait until no request is being handled."""
        async with self._quiet:
            await self._quiet.wait_for(lambda: self._in_flight == 0)

    def settle(self, payment_id: str, status: str = "succeeded") -> None:
        """The customer's payment went through (or failed) on Hyperswitch's side."""
        payment = self.payments[payment_id]
        payment["status"] = status
        if status == "succeeded":
            payment["amount_received"] = payment["amount"]
            payment["amount_capturable"] = 0

    # The API.

    @web.middleware
    async def _edge(self, request: web.Request, handler) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.requests.append(Recorded(request.method, request.path, CIMultiDict(request.headers), parsed))
        self._in_flight += 1
        try:
            fault = self._faults.pop(0) if self._faults else None
            if fault == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()  # never sent: the connection is gone
            if fault == "hang":
                await self._released.wait()
            elif isinstance(fault, int):
                return _error(fault, "HE_00", "Something went wrong", kind="api")
            if request.headers.get("api-key") != self.api_key:
                return _error(401, "IR_01", "API key not provided or invalid API key used")
            try:
                return await handler(request)
            except Refusal as refusal:
                return _error(refusal.status, refusal.code, refusal.message)
        finally:
            async with self._quiet:
                self._in_flight -= 1
                self._quiet.notify_all()

    async def _body(self, request: web.Request, fields: set[str]) -> dict[str, Any]:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise _deserialize_error(str(exc)) from None
        if not isinstance(body, dict):
            raise _deserialize_error("invalid type, expected a JSON object")
        unknown = sorted(set(body) - fields)
        if unknown:
            raise _deserialize_error(f"unknown field `{unknown[0]}`")
        _check_optional(body, "metadata", dict)
        _check_optional(body, "description", str)
        _check_optional(body, "reason", str)
        _check_optional(body, "confirm", bool)
        return body

    async def _create_payment(self, request: web.Request) -> web.Response:
        body = await self._body(request, PAYMENT_FIELDS)
        if "payment_id" in body:
            payment_id = _check_id("payment_id", body["payment_id"])
        else:
            payment_id = f"pay_{secrets.token_hex(13)}"
        capture_method = body.get("capture_method", "automatic")
        if capture_method not in CAPTURE_METHODS:
            raise _deserialize_error(f"unknown variant `{capture_method}` for `capture_method`")
        for field in ("amount", "currency"):
            if body.get(field) is None:
                raise Refusal(400, "IR_04", f"Missing required param: {field}")
        amount = _check_amount(body["amount"], minimum=0)
        currency = body["currency"]
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise _deserialize_error(f"unknown variant `{currency}` for `currency`")
        if payment_id in self.payments:
            raise Refusal(400, "HE_01", "The payment with the specified payment_id already exists in our records")
        self.payments[payment_id] = {
            "payment_id": payment_id,
            "merchant_id": self.merchant_id,
            "status": "requires_payment_method",
            "amount": amount,
            "net_amount": amount,
            "amount_capturable": amount,
            "amount_received": None,
            "currency": currency,
            "client_secret": f"{payment_id}_secret_{secrets.token_hex(10)}",
            "created": _now(),
            "description": body.get("description"),
            "metadata": body.get("metadata"),
            "capture_method": capture_method,
            "attempt_count": 1,
        }
        return web.json_response(self.payments[payment_id])

    async def _retrieve_payment(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            raise Refusal(404, "HE_02", "Payment does not exist in our records")
        return web.json_response(payment)

    async def _create_refund(self, request: web.Request) -> web.Response:
        body = await self._body(request, REFUND_FIELDS)
        if "payment_id" not in body:
            raise _deserialize_error("missing field `payment_id`")
        payment = self.payments.get(body["payment_id"])
        if payment is None:
            raise Refusal(404, "HE_02", "Payment does not exist in our records")
        refund_id = _check_id("refund_id", body["refund_id"]) if "refund_id" in body else f"ref_{secrets.token_hex(13)}"
        if refund_id in self.refunds:
            raise Refusal(400, "HE_01", "Duplicate refund request. Refund already attempted with the refund ID")
        if payment["status"] not in REFUNDABLE:
            raise Refusal(
                400,
                "IR_14",
                f"This Payment could not be refund because it has a status of {payment['status']}. "
                f"The expected state is {', '.join(REFUNDABLE)}",
            )
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_id"] == payment["payment_id"])
        remaining = payment["amount"] - refunded
        amount = _check_amount(body["amount"], minimum=1) if body.get("amount") is not None else remaining
        if amount > remaining:
            raise Refusal(400, "IR_13", "The refund amount exceeds the amount captured")
        now = _now()
        self.refunds[refund_id] = {
            "refund_id": refund_id,
            "payment_id": payment["payment_id"],
            "amount": amount,
            "currency": payment["currency"],
            "status": "pending",
            "reason": body.get("reason"),
            "metadata": body.get("metadata"),
            "error_message": None,
            "error_code": None,
            "created_at": now,
            "updated_at": now,
            "connector": "fauxpay",
        }
        return web.json_response(self.refunds[refund_id])

    async def _retrieve_refund(self, request: web.Request) -> web.Response:
        refund = self.refunds.get(request.match_info["refund_id"])
        if refund is None:
            raise Refusal(404, "HE_02", "Refund does not exist in our records")
        return web.json_response(refund)


def _error(status: int, code: str, message: str, *, kind: str = "invalid_request") -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message, "code": code}}, status=status)
