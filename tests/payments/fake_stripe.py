"""A local Stripe: the part of its HTTP API that Stripe Connect payouts use, kept in memory.

It answers as Stripe's API reference describes: the secret key as `Authorization: Bearer sk_...`
(401 otherwise); form-encoded bodies in Stripe's bracket notation (`capabilities[transfers][requested]=true`);
`POST /v1/accounts`, `GET /v1/accounts/{id}`, `POST /v1/account_links`, `GET /v1/balance` (a connected
account's with the `Stripe-Account` header), `POST /v1/transfers`, `POST /v1/transfers/{id}/reversals`;
unknown or missing parameters refused; errors as `{"error": {"type", "code", "message", "param"}}`.

Idempotency as Stripe's: a POST's result (status and body, a refusal included) is saved under its
`Idempotency-Key` once the endpoint ran, and a later request with that key gets it again with
`Idempotent-Replayed: true`; the same key with other parameters is a 400 `idempotency_error`; a key
whose first request is still running is a 409 `idempotency_key_in_use`. Requests refused before the
endpoint runs (authentication, injected 5xx) save nothing.

Every request is recorded. Tests make the next requests fail with a 5xx, hang until `release()`
(then they are carried out, the answer too late), or have the next transfers refused (as Stripe
refuses a transfer when the platform balance is short).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

_KEY = re.compile(r"\[([^\[\]]*)\]")
PARAMS: web.RequestKey[dict[str, Any]] = web.RequestKey("params")
BODY: web.ResponseKey[dict[str, Any]] = web.ResponseKey("body")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: CIMultiDict[str]
    form: list[tuple[str, str]]  # the body's fields, as sent
    params: dict[str, Any]  # the same, nested as Stripe reads the brackets


@dataclass
class Refusal(Exception):
    status: int
    code: str | None
    message: str
    param: str | None = None
    type: str = "invalid_request_error"


@dataclass
class Account:
    id: str
    email: str | None
    capabilities: dict[str, str]
    details_submitted: bool = False
    funds: list[tuple[str, int, str]] = field(default_factory=list)  # (available|pending, amount, currency)

    def json(self) -> dict[str, Any]:
        onboarded = self.details_submitted
        return {
            "id": self.id,
            "object": "account",
            "type": "express",
            "email": self.email,
            "country": "FR",
            "default_currency": "eur",
            "details_submitted": onboarded,
            "charges_enabled": onboarded,
            "payouts_enabled": onboarded,
            "capabilities": dict(self.capabilities),
            "metadata": {},
            "created": 1764576000,
        }


def nest(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation read back: `a[b][c]=v` is {"a": {"b": {"c": "v"}}}, `a[0]=v` a list item."""
    params: dict[str, Any] = {}
    for name, value in form:
        head = name.split("[", 1)[0]
        keys = [head, *_KEY.findall(name[len(head) :])]
        node = params
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise Refusal(400, "parameter_invalid_string", f"Invalid hash: {name}", name)
        node[keys[-1]] = value
    return params


def _integer(params: dict[str, Any], name: str, *, minimum: int) -> int:
    value = params.get(name)
    if value is None:
        raise Refusal(400, "parameter_missing", f"Missing required param: {name}.", name)
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value) or int(value) < minimum:
        raise Refusal(400, "parameter_invalid_integer", f"Invalid integer: {value}", name)
    return int(value)


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(400, "parameter_missing", f"Missing required param: {name}.", name)
    return value


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise Refusal(400, "parameter_unknown", f"Received unknown parameter: {name}", name)


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake") -> None:
        self.api_key = api_key
        self.accounts: dict[str, Account] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.platform_available = 10_000_000  # cents the platform may transfer
        self._saved: dict[tuple[str, str], tuple[tuple[str, str, Any], int, dict[str, Any]]] = {}
        self._running: set[tuple[str, str]] = set()
        self._faults: list[int | str] = []  # one per coming request: a 5xx status or "hang"
        self._refusals: list[Refusal] = []  # one per coming transfer
        self._released = asyncio.Event()
        self._in_flight = 0
        self._quiet = asyncio.Condition()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._edge])
        app.router.add_post("/v1/accounts", self._create_account)
        app.router.add_get("/v1/accounts/{id}", self._retrieve_account)
        app.router.add_post("/v1/account_links", self._create_account_link)
        app.router.add_get("/v1/balance", self._balance)
        app.router.add_post("/v1/transfers", self._create_transfer)
        app.router.add_post("/v1/transfers/{id}/reversals", self._create_reversal)
        return app

    # What tests tell it.

    def fail_next(self, count: int, status: int = 500) -> None:
        self._faults += [status] * count

    def hang_next(self, count: int) -> None:
        self._faults += ["hang"] * count

    def release(self) -> None:
        self._released.set()

    async def quiet(self) -> None:
        """Wait until no request is being handled (a held one carried out after `release()`)."""
        async with self._quiet:
            await self._quiet.wait_for(lambda: self._in_flight == 0)

    def refuse_next_transfers(
        self,
        count: int,
        *,
        status: int = 400,
        code: str = "balance_insufficient",
        message: str = "You have insufficient available funds in your Stripe account.",
        type_: str = "invalid_request_error",
    ) -> None:
        self._refusals += [Refusal(status, code, message, None, type_)] * count

    def complete_onboarding(self, account_id: str) -> None:
        """The seller filled in Stripe's onboarding form and Stripe verified them."""
        account = self.accounts[account_id]
        account.details_submitted = True
        account.capabilities = {name: "active" for name in account.capabilities}

    def add_funds(self, account_id: str, kind: str, amount: int, currency: str) -> None:
        """Money on a connected account's balance beside its transfers (other payments, another currency)."""
        self.accounts[account_id].funds.append((kind, amount, currency))

    def make_available(self, account_id: str) -> None:
        """The account's transfers so far become available (their funds settled)."""
        for transfer in self.transfers.values():
            if transfer["destination"] == account_id:
                transfer["_available"] = True

    def posts(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    # The API.

    @web.middleware
    async def _edge(self, request: web.Request, handler) -> web.StreamResponse:
        self._in_flight += 1
        try:
            return await self._answer(request, handler)
        finally:
            async with self._quiet:
                self._in_flight -= 1
                self._quiet.notify_all()

    async def _answer(self, request: web.Request, handler) -> web.StreamResponse:
        raw = (await request.read()).decode()
        form = parse_qsl(raw, keep_blank_values=True)
        try:
            params = nest(form)
        except Refusal as refusal:
            return _error(refusal)
        self.requests.append(Recorded(request.method, request.path, CIMultiDict(request.headers), form, params))
        fault = self._faults.pop(0) if self._faults else None
        if fault == "hang":
            await self._released.wait()
        elif isinstance(fault, int):
            return _error(Refusal(fault, None, "An unknown error occurred", type="api_error"))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(Refusal(401, None, "Invalid API Key provided: sk_test_****"))
        request[PARAMS] = params
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await self._run(request, handler)
        scope = (request.headers.get("Stripe-Account", ""), key)
        fingerprint = (request.method, request.path, params)
        if scope in self._running:
            return _error(
                Refusal(
                    409,
                    "idempotency_key_in_use",
                    "There is currently another in-progress request using this Idempotent Key.",
                )
            )
        if scope in self._saved:
            saved_fingerprint, status, body = self._saved[scope]
            if saved_fingerprint != fingerprint:
                return _error(
                    Refusal(
                        400,
                        None,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        "used with.",
                        type="idempotency_error",
                    )
                )
            return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})
        self._running.add(scope)
        try:
            response = await self._run(request, handler)
        finally:
            self._running.discard(scope)
        self._saved[scope] = (fingerprint, response.status, response[BODY])
        return response

    async def _run(self, request: web.Request, handler) -> web.Response:
        try:
            status, body = 200, await handler(request)
        except Refusal as refusal:
            status, body = refusal.status, _error_body(refusal)
        response = web.json_response(body, status=status, headers={"Request-Id": f"req_{secrets.token_hex(7)}"})
        response[BODY] = body
        return response

    def _account(self, account_id: str, param: str | None = None) -> Account:
        if account_id not in self.accounts:
            raise Refusal(404, "resource_missing", f"No such account: '{account_id}'", param)
        return self.accounts[account_id]

    async def _create_account(self, request: web.Request) -> dict[str, Any]:
        params = request[PARAMS]
        _only(params, {"type", "email", "capabilities", "country", "metadata", "business_type"})
        if params.get("type") not in ("express", "standard", "custom"):
            raise Refusal(
                400, "parameter_invalid_string", "Invalid type: must be one of custom, express, or standard", "type"
            )
        capabilities = params.get("capabilities") or {}
        if not isinstance(capabilities, dict):
            raise Refusal(400, "parameter_invalid_string", "Invalid hash", "capabilities")
        requested = {name: "inactive" for name, value in capabilities.items() if value == {"requested": "true"}}
        account = Account(f"acct_{secrets.token_hex(8)}", params.get("email"), requested)
        self.accounts[account.id] = account
        return account.json()

    async def _retrieve_account(self, request: web.Request) -> dict[str, Any]:
        return self._account(request.match_info["id"]).json()

    async def _create_account_link(self, request: web.Request) -> dict[str, Any]:
        params = request[PARAMS]
        _only(params, {"account", "type", "refresh_url", "return_url", "collect", "collection_options"})
        account = self._account(_required(params, "account"), "account")
        if _required(params, "type") not in ("account_onboarding", "account_update"):
            raise Refusal(400, "parameter_invalid_string", "Invalid type", "type")
        for name in ("refresh_url", "return_url"):
            if not re.match(r"https?://", _required(params, name)):
                raise Refusal(400, "url_invalid", "Not a valid URL", name)
        now = int(time.time())
        return {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"https://connect.stripe.com/setup/e/{account.id}/{secrets.token_urlsafe(12)}",
        }

    async def _balance(self, request: web.Request) -> dict[str, Any]:
        funds: dict[tuple[str, str], int] = {}
        account_id = request.headers.get("Stripe-Account")
        if account_id is None:
            funds[("available", "eur")] = self.platform_available
        else:
            account = self._account(account_id)
            for transfer in self.transfers.values():
                if transfer["destination"] == account_id:
                    kind = "available" if transfer["_available"] else "pending"
                    left = transfer["amount"] - transfer["amount_reversed"]
                    funds[(kind, transfer["currency"])] = funds.get((kind, transfer["currency"]), 0) + left
            for kind, amount, currency in account.funds:
                funds[(kind, currency)] = funds.get((kind, currency), 0) + amount
        return {
            "object": "balance",
            "livemode": False,
            **{
                kind: [
                    {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                    for (k, currency), amount in sorted(funds.items())
                    if k == kind
                ]
                for kind in ("available", "pending")
            },
        }

    async def _create_transfer(self, request: web.Request) -> dict[str, Any]:
        params = request[PARAMS]
        _only(params, {"amount", "currency", "destination", "transfer_group", "source_transaction", "metadata"})
        amount = _integer(params, "amount", minimum=1)
        currency = _required(params, "currency").lower()
        account = self._account(_required(params, "destination"), "destination")
        if account.capabilities.get("transfers") != "active":
            raise Refusal(
                400,
                "insufficient_capabilities_for_transfer",
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                "destination",
            )
        if self._refusals:
            raise self._refusals.pop(0)
        transfer = {
            "id": f"tr_{secrets.token_hex(8)}",
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": currency,
            "destination": account.id,
            "transfer_group": params.get("transfer_group"),
            "source_transaction": params.get("source_transaction"),
            "reversed": False,
            "created": int(time.time()),
            "metadata": {},
        }
        self.transfers[transfer["id"]] = {**transfer, "_available": False}
        return transfer

    async def _create_reversal(self, request: web.Request) -> dict[str, Any]:
        params = request[PARAMS]
        _only(params, {"amount", "metadata", "description", "refund_application_fee"})
        transfer = self.transfers.get(request.match_info["id"])
        if transfer is None:
            raise Refusal(404, "resource_missing", f"No such transfer: '{request.match_info['id']}'", "id")
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = _integer(params, "amount", minimum=1) if "amount" in params else left
        if amount > left:
            raise Refusal(
                400, "parameter_invalid_integer", "Transfer reversal amount exceeds the transfer amount", "amount"
            )
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        return {
            "id": f"trr_{secrets.token_hex(8)}",
            "object": "transfer_reversal",
            "amount": amount,
            "currency": transfer["currency"],
            "transfer": transfer["id"],
            "created": int(time.time()),
            "metadata": {},
        }


def _error_body(refusal: Refusal) -> dict[str, Any]:
    error = {"type": refusal.type, "message": refusal.message}
    if refusal.code:
        error["code"] = refusal.code
    if refusal.param:
        error["param"] = refusal.param
    return {"error": error}


def _error(refusal: Refusal) -> web.Response:
    return web.json_response(_error_body(refusal), status=refusal.status)
