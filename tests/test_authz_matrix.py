"""The authorization matrix: every route in the router, called as each kind of caller, answers what its
declaration (`endpoint(auth=...)`, veza.http.ACCESS) promises; a refused call changes nothing (a digest
of every table before and after), and no answer to another caller shows the owner's private objects.

Callers: anonymous, `other` (a user with nothing), `seller` (role seller, who sold `owner` what `owner`
bought), `admin`, and `owner` (who owns the objects in the paths). Each route has a recipe here: how
to call it with real objects (tests/world.py). A route without a recipe fails the test: a new route
declares who may call it and gets a recipe, both in the same change.

What each declaration promises:
- public, optional: every caller succeeds.
- credential: without the credential the call is refused the same way whoever calls (the recipe
  says how); with it, an anonymous call succeeds.
- user: anonymous 401; every signed-in caller succeeds on their own account.
- owner: anonymous 401; anyone but the owner 404 (admins too: they have no way into users' objects).
- party: anonymous 401; the buyer (owner) and the seller of the order or product succeed; others 404.
- buyer: anonymous 401; the buyer (owner) succeeds; others 403 (the product is public).
- seller: anonymous 401; users without the role 403; sellers and admins succeed.
- admin: anonymous 401; everyone else 403.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.factories import PASSWORD, make_user, ws_receive, ws_subscribe
from tests.gear.helpers_docs import document_form
from tests.payments.helpers import payment_event
from tests.world import (
    API,
    METRICS_TOKEN,
    ROLES,
    RTMP_SECRET,
    SETTINGS_UPDATE,
    STRIPE_WEBHOOK_SECRET,
    World,
    fresh_session,
    make_world,
)
from veza.app import create_app, refuse_undeclared_routes
from veza.http import ACCESS, endpoint
from veza.keys import DB, HUB, SETTINGS
from veza.notifications.service import notify
from veza.payments import stripe_webhooks
from veza.payments.signing import sign
from veza.webclient import is_client_route

pytestmark = pytest.mark.slow

WHO = ("anonymous", "other", "seller", "admin", "owner")  # the owner last: its calls may change the objects


@dataclass
class Call:
    path: str
    kwargs: dict[str, Any]


def call(path: str, **kwargs: Any) -> Call:
    return Call(path, kwargs)


Recipe = Callable[[Any, World, str], Awaitable[Call]]


def fixed(path: str, **kwargs: Any) -> Recipe:
    async def recipe(client, world: World, who: str) -> Call:
        return call(path.format(**world.ids), **kwargs)

    return recipe


def multipart(field: str = "file", name: str = "beat.wav") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, b"RIFF....WAVE", filename=name, content_type="audio/wav")
    return form


async def new_file(client, world: World) -> str:
    form = multipart(name="doomed.wav")
    resp = await client.post(f"{API}/cloud/files", data=form, headers=world.headers("owner"))
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]["id"]


def made_once(make: Callable[[Any, World], Awaitable[Call]]) -> Recipe:
    """A recipe whose call destroys its object: one made for it, the same one for every caller."""
    made: dict[int, Call] = {}

    async def recipe(client, world: World, who: str) -> Call:
        if id(world) not in made:
            made[id(world)] = await make(client, world)
        return made[id(world)]

    return recipe


async def _delete_file(client, world):
    return call(f"{API}/cloud/files/{await new_file(client, world)}")


async def _delete_share(client, world):
    resp = await client.post(f"{API}/cloud/files/{world.ids['file']}/share", json={}, headers=world.headers("owner"))
    return call(f"{API}/cloud/shares/{(await resp.json())['data']['id']}")


async def _gear(client, world) -> str:
    body = {"name": "Doomed", "purchase_date": "2024-02-29"}
    resp = await client.post(f"{API}/inventory/gear", json=body, headers=world.headers("owner"))
    return (await resp.json())["data"]["id"]


async def _delete_gear(client, world):
    return call(f"{API}/inventory/gear/{await _gear(client, world)}")


async def _delete_repair(client, world):
    body = {"repair_date": "2025-01-10", "description": "Doomed repair"}
    path = f"{API}/inventory/gear/{world.ids['gear']}/repairs"
    resp = await client.post(path, json=body, headers=world.headers("owner"))
    return call(f"{path}/{(await resp.json())['data']['id']}")


async def _delete_document(client, world):
    path = f"{API}/inventory/gear/{world.ids['gear']}/documents"
    resp = await client.post(path, data=document_form(), headers=world.headers("owner"))
    return call(f"{path}/{(await resp.json())['data']['id']}")


async def _archive_product(client, world):
    asset = await new_file(client, world)
    body = {"title": "Doomed", "kind": "beat", "price_cents": 100, "asset_file_id": asset}
    resp = await client.post(f"{API}/marketplace/products", json=body, headers=world.headers("owner"))
    return call(f"{API}/marketplace/products/{(await resp.json())['data']['id']}")


async def upload(client, world, who):
    return call(f"{API}/cloud/files", data=multipart())


async def upload_content(client, world, who):
    return call(f"{API}/cloud/files/{world.ids['file']}/content", data=multipart())


async def upload_document(client, world, who):
    return call(f"{API}/inventory/gear/{world.ids['gear']}/documents", data=document_form())


async def seller_page(client, world: World, who: str) -> Call:
    return call(f"{API}/marketplace/sellers/{world.user_id('seller')}")


async def create_product(client, world, who):
    # each caller lists a product made of one of their own files
    resp = await client.post(f"{API}/cloud/files", data=multipart(), headers=world.headers(who))
    asset = (await resp.json())["data"]["id"] if resp.status == 201 else world.ids["file"]
    body = {"title": "Listed", "kind": "beat", "price_cents": 500, "asset_file_id": asset}
    return call(f"{API}/marketplace/products", json=body)


async def create_order(client, world, who):
    product = world.ids["product"] if who == "seller" else world.ids["for_sale"]  # nobody buys their own
    body = {"items": [{"product_id": product, "quantity": 1}], "payment_method": "card"}
    return call(f"{API}/marketplace/orders", json=body)


async def refund(client, world, who):
    order = world.ids["refund_orders"].get(who, world.ids["refund_orders"]["owner"])
    return call(f"{API}/marketplace/orders/{order}/refund", json={"reason": "Not as described"})


async def register(client, world, who):
    n = WHO.index(who)
    body = {"username": f"matrix{n}", "email": f"matrix{n}@example.com", "password": PASSWORD}
    return call(f"{API}/auth/register", json=body)


async def login(client, world, who):
    user = world.users["other"]
    return call(f"{API}/auth/login", json={"email": user["user"]["email"], "password": PASSWORD})


async def logout(client, world, who):
    # logging out ends the session it is made in: each caller logs out a session of its own
    headers = {} if who == "anonymous" else await fresh_session(client, world, who)
    return call(f"{API}/auth/logout", headers=headers, bearer=False)


def as_a_new_user(recipe: Recipe) -> Recipe:
    """A call that changes or ends the caller's account (a password change, an account deletion), made
    by each signed-in caller as a new user of the same role, so that the shared callers stay intact."""

    async def new_user(client, world: World, who: str) -> Call:
        c = await recipe(client, world, who)
        if who == "anonymous":
            return c
        user = await make_user(client, role=ROLES[who])
        headers = {**c.kwargs.get("headers", {}), **user["headers"]}
        return call(c.path, **{**c.kwargs, "headers": headers, "bearer": False})

    return new_user


async def refresh(client, world, who):
    return call(f"{API}/auth/refresh", json={"refresh_token": world.users["owner"]["refresh_token"]})


async def owns_export(client, world, who):
    # the owner's export, asked for over POST /users/me/export (one a day) earlier in the run
    export = await client.app[DB].fetch_val("SELECT id FROM data_exports WHERE user_id = %s", (world.user_id("owner"),))
    return call(f"{API}/users/me/exports/{export}")


def rtmp(event: str, name: str = "{stream_key}") -> Recipe:
    async def recipe(client, world, who):
        data = {"app": "live", "name": name.format(**world.ids), "addr": "127.0.0.1", "clientid": "1"}
        return call(f"{API}/live/rtmp/{event}", params={"secret": RTMP_SECRET}, data=data, allow_redirects=False)

    return recipe


async def hyperswitch(client, world, who):
    body = orjson.dumps(payment_event("pay_matrix_unknown", amount=100))
    signature = sign(client.app[SETTINGS].hyperswitch_webhook_secret, body)
    headers = {"Content-Type": "application/json", "X-Webhook-Signature-512": signature}
    return call(f"{API}/webhooks/hyperswitch", data=body, headers=headers)


async def stripe(client, world, who):
    event = {"id": f"evt_matrix_{who}", "type": "account.updated", "object": "event", "data": {"object": {}}}
    body = orjson.dumps(event)
    signature = stripe_webhooks.sign(STRIPE_WEBHOOK_SECRET, body, int(time.time()))
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return call(f"{API}/webhooks/stripe", data=body, headers=headers)


def without(recipe: Recipe, change: Callable[[Call], Call]) -> Recipe:
    async def refused(client, world, who):
        return change(await recipe(client, world, who))

    return refused


def drop_header(name: str) -> Callable[[Call], Call]:
    def change(c: Call) -> Call:
        headers = {k: v for k, v in c.kwargs.get("headers", {}).items() if k != name}
        return call(c.path, **{**c.kwargs, "headers": headers})

    return change


def other_params(**params: str) -> Callable[[Call], Call]:
    def change(c: Call) -> Call:
        return call(c.path, **{**c.kwargs, "params": {**c.kwargs.get("params", {}), **params}})

    return change


def other_path(old: str, new: str) -> Callable[[Call], Call]:
    return lambda c: call(c.path.replace(old, new), **c.kwargs)


FILE = API + "/cloud/files/{file}"
GEAR = API + "/inventory/gear/{gear}"
DOCS = "/api/docs"

# How to call each route: "METHOD /canonical/path" -> recipe (its credential routes: also how to call
# it without the credential, and the answer then).
RECIPES: dict[str, Recipe] = {
    "GET /api/v1/health": fixed(f"{API}/health"),
    "GET /api/v1/health/deep": fixed(f"{API}/health/deep"),
    "GET /api/v1/healthz": fixed(f"{API}/healthz"),
    "GET /api/v1/readyz": fixed(f"{API}/readyz"),
    "GET /health": fixed("/health"),
    "GET /health/deep": fixed("/health/deep"),
    "GET /healthz": fixed("/healthz"),
    "GET /readyz": fixed("/readyz"),
    "GET /api/v1/metrics": fixed(f"{API}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, bearer=False),
    "GET /metrics": fixed("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, bearer=False),
    "GET /api/v1/openapi.json": fixed(f"{API}/openapi.json"),
    "GET /api/docs": fixed(DOCS),
    "GET /api/docs/assets": fixed(f"{DOCS}/assets/swagger-ui-bundle.js"),
    "GET /api/docs/static": fixed(f"{DOCS}/static/docs.js"),
    "POST /api/v1/auth/register": register,
    "POST /api/v1/auth/login": login,
    "POST /api/v1/auth/refresh": refresh,
    "POST /api/v1/auth/logout": logout,
    "GET /api/v1/users/me": fixed(f"{API}/users/me"),
    "DELETE /api/v1/users/me": as_a_new_user(fixed(f"{API}/users/me", json={"password": PASSWORD})),
    "PATCH /api/v1/users/me": as_a_new_user(
        fixed(f"{API}/users/me", json={"password": "Another-Horse-Battery-7", "current_password": PASSWORD})
    ),
    "POST /api/v1/users/me/export": fixed(f"{API}/users/me/export"),
    "GET /api/v1/users/me/exports": fixed(f"{API}/users/me/exports"),
    "GET /api/v1/users/me/exports/{id}": owns_export,
    "GET /api/v1/ws": fixed(f"{API}/ws", websocket=True),
    "GET /api/v1/notifications": fixed(f"{API}/notifications"),
    "GET /api/v1/notifications/unread-count": fixed(f"{API}/notifications/unread-count"),
    "POST /api/v1/notifications/{id}/read": fixed(API + "/notifications/{notification}/read"),
    "POST /api/v1/notifications/read-all": fixed(f"{API}/notifications/read-all"),
    "GET /api/v1/live/streams": fixed(f"{API}/live/streams"),
    "GET /api/v1/live/streams/me": fixed(f"{API}/live/streams/me"),
    "GET /api/v1/live/streams/me/key": fixed(f"{API}/live/streams/me/key"),
    "POST /api/v1/live/streams/me/key/regenerate": fixed(f"{API}/live/streams/me/key/regenerate"),
    "GET /api/v1/live/streams/{id}": fixed(API + "/live/streams/{stream}"),
    "POST /api/v1/live/streams": fixed(f"{API}/live/streams", json={"title": "Another"}),
    "PUT /api/v1/live/streams/{id}": fixed(API + "/live/streams/{stream}", json={"title": "Renamed"}),
    "POST /api/v1/live/rtmp/on_publish": rtmp("on_publish"),
    "POST /api/v1/live/rtmp/on_update": rtmp("on_update"),
    "POST /api/v1/live/rtmp/on_play": rtmp("on_play", "{stream}"),
    "POST /api/v1/live/rtmp/on_play_done": rtmp("on_play_done", "{stream}"),
    "POST /api/v1/live/rtmp/on_publish_done": rtmp("on_publish_done"),
    "GET /api/v1/live/health": fixed(f"{API}/live/health"),
    "GET /api/v1/storage/local/{key}": fixed(API + "/storage/local/{storage_key}"),  # params added below
    "POST /api/v1/cloud/files": upload,
    "GET /api/v1/cloud/files": fixed(f"{API}/cloud/files"),
    "GET /api/v1/cloud/usage": fixed(f"{API}/cloud/usage"),
    "GET /api/v1/cloud/files/{id}": fixed(FILE),
    "GET /api/v1/cloud/files/{id}/download": fixed(FILE + "/download"),
    "GET /api/v1/cloud/files/{id}/download/link": fixed(FILE + "/download/link"),
    "PUT /api/v1/cloud/files/{id}/content": upload_content,
    "PATCH /api/v1/cloud/files/{id}": fixed(FILE, json={"tags": ["matrix"]}),
    "DELETE /api/v1/cloud/files/{id}": made_once(_delete_file),
    "GET /api/v1/cloud/files/{id}/versions": fixed(FILE + "/versions"),
    "POST /api/v1/cloud/files/{id}/versions": fixed(FILE + "/versions"),
    "POST /api/v1/cloud/files/{id}/restore/{version}": fixed(FILE + "/restore/1"),
    "POST /api/v1/cloud/files/{id}/share": fixed(FILE + "/share", json={}),
    "GET /api/v1/cloud/files/{id}/shares": fixed(FILE + "/shares"),
    "DELETE /api/v1/cloud/shares/{share_id}": made_once(_delete_share),
    "GET /api/v1/cloud/shared/{token}": fixed(API + "/cloud/shared/{share_token}"),
    "GET /api/v1/cloud/shared/{token}/download": fixed(API + "/cloud/shared/{share_token}/download"),
    "GET /api/v1/marketplace/products": fixed(f"{API}/marketplace/products"),
    "GET /api/v1/marketplace/products/{id}": fixed(API + "/marketplace/products/{product}"),
    "POST /api/v1/marketplace/products": create_product,
    "PATCH /api/v1/marketplace/products/{id}": fixed(
        API + "/marketplace/products/{product}", json={"price_cents": 700}
    ),
    "DELETE /api/v1/marketplace/products/{id}": made_once(_archive_product),
    "GET /api/v1/sell/products": fixed(f"{API}/sell/products"),
    "GET /api/v1/marketplace/sellers/{id}": seller_page,
    "GET /api/v1/marketplace/products/{id}/reviews": fixed(API + "/marketplace/products/{bought_product}/reviews"),
    "POST /api/v1/marketplace/products/{id}/reviews": fixed(
        API + "/marketplace/products/{bought_product}/reviews", json={"rating": 5, "comment": "Great"}
    ),
    "GET /api/v1/marketplace/products/{id}/download": fixed(API + "/marketplace/products/{bought_product}/download"),
    "GET /api/v1/marketplace/products/{id}/download/link": fixed(
        API + "/marketplace/products/{bought_product}/download/link"
    ),
    "POST /api/v1/marketplace/orders": create_order,
    "GET /api/v1/marketplace/orders": fixed(f"{API}/marketplace/orders"),
    "GET /api/v1/marketplace/orders/{id}": fixed(API + "/marketplace/orders/{order}"),
    "POST /api/v1/marketplace/orders/{id}/refund": refund,
    "GET /api/v1/marketplace/orders/{id}/invoice": fixed(API + "/marketplace/orders/{order}/invoice"),
    "GET /api/v1/marketplace/orders/{id}/invoice/link": fixed(API + "/marketplace/orders/{order}/invoice/link"),
    "POST /api/v1/webhooks/hyperswitch": hyperswitch,
    "POST /api/v1/payments/sandbox/{payment_id}/confirm": fixed(
        API + "/payments/sandbox/{payment}/confirm", json={"outcome": "succeeded"}
    ),
    "POST /api/v1/sell/connect/onboard": fixed(f"{API}/sell/connect/onboard"),
    "GET /api/v1/sell/connect/sandbox/complete": fixed(f"{API}/sell/connect/sandbox/complete"),  # params below
    "GET /api/v1/sell/balance": fixed(f"{API}/sell/balance"),
    "GET /api/v1/sell/transfers": fixed(f"{API}/sell/transfers"),
    "POST /api/v1/webhooks/stripe": stripe,
    "GET /api/v1/admin/transfers": fixed(f"{API}/admin/transfers"),
    "POST /api/v1/admin/transfers/{id}/retry": fixed(API + "/admin/transfers/{failed_transfer}/retry"),
    "GET /api/v1/tags/suggest": fixed(f"{API}/tags/suggest", params={"q": "ma"}),
    "POST /api/v1/inventory/gear": fixed(f"{API}/inventory/gear", json={"name": "Desk", "purchase_date": "2025-01-01"}),
    "GET /api/v1/inventory/gear": fixed(f"{API}/inventory/gear"),
    "GET /api/v1/inventory/gear/{id}": fixed(GEAR),
    "PATCH /api/v1/inventory/gear/{id}": fixed(GEAR, json={"brand": "Neumann"}),
    "DELETE /api/v1/inventory/gear/{id}": made_once(_delete_gear),
    "POST /api/v1/inventory/gear/{id}/repairs": fixed(
        GEAR + "/repairs", json={"repair_date": "2025-02-10", "description": "New cable"}
    ),
    "GET /api/v1/inventory/gear/{id}/repairs": fixed(GEAR + "/repairs"),
    "DELETE /api/v1/inventory/gear/{id}/repairs/{repairId}": made_once(_delete_repair),
    "POST /api/v1/inventory/gear/{id}/documents": upload_document,
    "GET /api/v1/inventory/gear/{id}/documents": fixed(GEAR + "/documents"),
    "GET /api/v1/inventory/gear/{id}/documents/{doc_id}/download": fixed(GEAR + "/documents/{document}/download"),
    "GET /api/v1/inventory/gear/{id}/documents/{doc_id}/download/link": fixed(
        GEAR + "/documents/{document}/download/link"
    ),
    "DELETE /api/v1/inventory/gear/{id}/documents/{doc_id}": made_once(_delete_document),
}


def _with_params(path: str, key: str) -> Recipe:
    async def recipe(client, world, who):
        return call(path.format(**world.ids), params=world.ids[key])

    return recipe


RECIPES["GET /api/v1/storage/local/{key}"] = _with_params(API + "/storage/local/{storage_key}", "storage_link")
RECIPES["GET /api/v1/sell/connect/sandbox/complete"] = _with_params(
    f"{API}/sell/connect/sandbox/complete", "onboarding_link"
)
BAD_SIGNATURE = {"signature": "0" * 64}
# Credential routes: the same call without its credential, and the answer every caller then gets.
WITHOUT_CREDENTIAL: dict[str, tuple[Recipe, int]] = {
    "GET /api/v1/metrics": (fixed(f"{API}/metrics"), 401),
    "GET /metrics": (fixed("/metrics"), 401),
    "POST /api/v1/auth/refresh": (fixed(f"{API}/auth/refresh", json={"refresh_token": "not-a-token"}), 401),
    "POST /api/v1/webhooks/hyperswitch": (without(hyperswitch, drop_header("X-Webhook-Signature-512")), 401),
    "POST /api/v1/webhooks/stripe": (without(stripe, drop_header("Stripe-Signature")), 401),
    "GET /api/v1/storage/local/{key}": (
        without(RECIPES["GET /api/v1/storage/local/{key}"], other_params(**BAD_SIGNATURE)),
        404,
    ),
    "GET /api/v1/sell/connect/sandbox/complete": (
        without(RECIPES["GET /api/v1/sell/connect/sandbox/complete"], other_params(**BAD_SIGNATURE)),
        404,
    ),
    "GET /api/v1/cloud/shared/{token}": (fixed(f"{API}/cloud/shared/no-such-token"), 404),
    "GET /api/v1/cloud/shared/{token}/download": (fixed(f"{API}/cloud/shared/no-such-token/download"), 404),
    **{
        f"POST /api/v1/live/rtmp/{event}": (without(rtmp(event), other_params(secret="wrong-secret")), 403)
        for event in ("on_publish", "on_update", "on_play", "on_play_done", "on_publish_done")
    },
}
# Where the declaration alone does not tell the answer: metrics and the deep health details are for an
# admin's token as well as for METRICS_TOKEN, so a signed-in user who is no admin is refused.
WITHOUT_CREDENTIAL_BY_CALLER = {
    "GET /api/v1/metrics": {"other": 403, "seller": 403, "owner": 403, "admin": 200},
    "GET /metrics": {"other": 403, "seller": 403, "owner": 403, "admin": 200},
}


# Routes called before the others (in this order) and after them: the export is asked for before it is
# read, the stream goes live before viewers come and ends after them.
FIRST = [
    "POST /api/v1/users/me/export",
    "POST /api/v1/live/rtmp/on_publish",
    "POST /api/v1/live/rtmp/on_update",
    "POST /api/v1/live/rtmp/on_play",
    "POST /api/v1/live/rtmp/on_play_done",
]
LAST = ["POST /api/v1/live/rtmp/on_publish_done"]


def run_order(key: str) -> tuple[int, int, str]:
    if key in FIRST:
        return (0, FIRST.index(key), key)
    return (2 if key in LAST else 1, 0, key)


def expected(rule: str, who: str) -> int | None:
    """The refusal `who` gets from a route with this rule, or None when the call must succeed."""
    if who == "anonymous":
        return None if rule in ("public", "optional", "credential") else 401
    if rule in ("public", "optional", "credential", "user"):
        return None
    if rule == "owner":
        return None if who == "owner" else 404
    if rule == "party":
        return None if who in ("owner", "seller") else 404
    if rule == "buyer":
        return None if who == "owner" else 403
    if rule == "seller":
        return None if who in ("seller", "admin") else 403
    if rule == "admin":
        return None if who == "admin" else 403
    raise AssertionError(f"no expectation for {rule!r}")


async def client_file(client, world, who):
    """One of the browser client's files, as its page links it."""
    page = await (await client.get("/")).text()
    return call(re.search(r'(/static/[^/"]+/[^"]+\.js)"', page)[1])


def client_recipe(path: str) -> Recipe:
    """The browser client's pages (and the deep links into them) and files: one way for all of them."""
    if path.startswith("/static/"):
        return client_file
    return fixed(path.replace("{rest}", "some/deep/link"))


def routes_of(app) -> dict[str, tuple[str | None, str, Recipe | None]]:
    """ "METHOD /path" -> (its declared rule, method, recipe) for every route of the router."""
    found = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical
        spec = getattr(route.handler, "endpoint", None)
        rule = spec.auth if spec is not None else None
        if path.startswith(DOCS) or path.endswith("openapi.json"):
            rule = "public"  # the API's own documentation, added after the check of declarations
        key = f"{route.method} {path}"
        recipe = client_recipe(path) if is_client_route(route) else RECIPES.get(key)
        found[key] = (rule, route.method, recipe)
    return found


async def fingerprint(db, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows: equal fingerprints, nothing written."""
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) FROM \"{t}\" r"
        for t in tables
    )
    return {row["?column?"]: (row["count"], row["md5"]) for row in await db.fetch_all(query)}


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update=SETTINGS_UPDATE))


async def send(client, world: World, who: str, method: str, c: Call) -> tuple[int, str]:
    kwargs = dict(c.kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if kwargs.pop("bearer", True):
        headers = {**world.headers(who), **headers}
    if kwargs.pop("websocket", False):
        params = {"token": world.users[who]["access_token"]} if who != "anonymous" else {}
        ws = await client.ws_connect(c.path, params=params)
        await ws.send_json({"type": "subscribe", "channel": "notifications" if params else "live"})
        reply = await ws.receive_json(timeout=5)
        await ws.close()
        return (101 if reply["type"] == "subscribed" else 403), str(reply)
    resp = await client.request(method, c.path, headers=headers, **kwargs)
    return resp.status, (await resp.read()).decode("utf-8", "replace")


def hidden_from(world: World) -> dict[str, set[str]]:
    """What of the owner's each other caller must never read in an answer: their private objects' ids,
    share token, stream key, email and refresh token; and, unless a party to them, their orders."""
    ids = world.ids
    owner = world.users["owner"]
    private = {str(ids[name]) for name in ("file", "share", "share_token", "stream_key", "gear", "repair", "document")}
    private |= {str(ids["notification"]), owner["user"]["email"], owner["refresh_token"]}
    purchases = {str(ids["order"]), str(ids["pending_order"]), ids["payment"], *ids["refund_orders"].values()}
    return {"anonymous": private | purchases, "other": private | purchases, "seller": private, "admin": private}


def test_every_route_declares_who_may_call_it(app):
    routes = routes_of(app)
    assert [key for key, (rule, _, _) in routes.items() if rule not in ACCESS] == []
    assert [key for key, (_, _, recipe) in routes.items() if recipe is None] == [], "routes without a recipe"
    assert set(RECIPES) - set(routes) == set(), "recipes of routes that no longer exist"
    credential = {key for key, (rule, _, _) in routes.items() if rule == "credential"}
    assert credential == set(WITHOUT_CREDENTIAL)


async def test_the_matrix(client):
    world = await make_world(client)
    db = client.app[DB]
    tables = [
        row["tablename"]
        for row in await db.fetch_all(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "ORDER BY tablename"
        )
    ]
    hidden = hidden_from(world)
    wrong: list[str] = []
    for key, (rule, method, recipe) in sorted(routes_of(client.app).items(), key=lambda item: run_order(item[0])):
        if recipe is None:
            wrong.append(f"{key}: no recipe")
            continue
        refusals = []
        if rule == "credential":
            bare, status = WITHOUT_CREDENTIAL[key]
            for who in WHO:
                answer = WITHOUT_CREDENTIAL_BY_CALLER.get(key, {}).get(who, status)
                refusals.append((who, bare, answer))
        plan = [(who, recipe, expected(rule, who)) for who in WHO]
        if rule == "credential":
            plan = [("anonymous", recipe, None)]
        for who, make_call, refusal in refusals + plan:
            c = await make_call(client, world, who)
            before = await fingerprint(db, tables) if refusal is not None and refusal >= 400 else None
            status, body = await send(client, world, who, method, c)
            if refusal is None or refusal < 400:
                if not 200 <= status < 400 and status != 101:
                    wrong.append(f"{key} as {who}: {status}, expected success: {body[:300]}")
                leaked = sorted(value for value in hidden.get(who, ()) if value in body)
                if leaked and rule != "credential":  # a credential is the owner's leave to read
                    wrong.append(f"{key} as {who}: the answer shows the owner's {leaked}")
                continue
            if status != refusal:
                wrong.append(f"{key} as {who}: {status}, expected {refusal}: {body[:300]}")
            after = await fingerprint(db, tables)
            changed = sorted(t for t in tables if before[t] != after[t])
            if changed:
                wrong.append(f"{key} as {who}: answered {status} yet changed {changed}")
    assert wrong == [], "\n".join(wrong)


async def quiet(ws) -> bool:
    """Nothing is waiting on the socket: a ping's answer is the next message."""
    await ws.send_json({"type": "ping"})
    return (await ws_receive(ws)) == {"type": "pong"}


async def test_websocket_channels_as_each_caller(client):
    owner, other = await make_user(client), await make_user(client)
    stream = (await (await client.post(f"{API}/live/streams", json={"title": "WS"}, headers=owner["headers"])).json())[
        "data"
    ]
    channels = client.app[HUB].channels
    owner_id = owner["user"]["id"]
    private = [
        f"user:{owner_id}:notifications",
        channels.user(owner_id, "notifications"),
        f"notifications:{owner_id}",
        "control",
        channels.control,
        channels.public("notifications"),
    ]
    sockets = {
        "anonymous": await client.ws_connect(f"{API}/ws"),
        "other": await client.ws_connect(f"{API}/ws", params={"token": other["access_token"]}),
        "owner": await client.ws_connect(f"{API}/ws", params={"token": owner["access_token"]}),
    }
    for who, ws in sockets.items():
        for public in ("live", f"live:{stream['id']}"):
            await ws_subscribe(ws, public)
        await ws.send_json({"type": "subscribe", "channel": "notifications"})
        reply = await ws_receive(ws)
        if who == "anonymous":
            assert reply["type"] == "error" and reply["code"] == "unauthorized", reply
        else:
            assert reply == {"type": "subscribed", "channel": "notifications"}, reply
        for name in private:  # another user's channel or the hub's own, by any spelling: unknown
            await ws.send_json({"type": "subscribe", "channel": name})
            reply = await ws_receive(ws)
            assert reply["type"] == "error" and reply["code"] == "unknown_channel", (who, name, reply)

    await notify(client.app, UUID(owner_id), "matrix", "For the owner only")
    event = await ws_receive(sockets["owner"], type_="event")
    assert (event["channel"], event["data"]["title"]) == ("notifications", "For the owner only"), event
    for who in ("anonymous", "other"):
        assert await quiet(sockets[who]), who
    for ws in sockets.values():
        await ws.close()


async def test_a_socket_authenticated_again_as_someone_else_hears_only_them(client):
    owner, other = await make_user(client), await make_user(client)
    ws = await client.ws_connect(f"{API}/ws", params={"token": owner["access_token"]})
    await ws_subscribe(ws, "notifications")
    await ws.send_json({"type": "auth", "token": other["access_token"]})
    assert await ws_receive(ws) == {"type": "unsubscribed", "channel": "notifications"}
    assert await ws_receive(ws) == {"type": "authenticated", "user_id": other["user"]["id"]}
    await notify(client.app, UUID(owner["user"]["id"]), "matrix", "Not for the new user")
    assert await quiet(ws)
    await ws_subscribe(ws, "notifications")
    await notify(client.app, UUID(other["user"]["id"]), "matrix", "For the new user")
    assert (await ws_receive(ws, type_="event"))["data"]["title"] == "For the new user"

    # a bad or revoked token changes nobody: the socket stays the last user's
    await ws.send_json({"type": "auth", "token": "not-a-token"})
    assert (await ws_receive(ws))["code"] == "unauthorized"
    revoked = await make_user(client)
    assert (await client.post(f"{API}/auth/logout", headers=revoked["headers"])).status == 200
    await ws.send_json({"type": "auth", "token": revoked["access_token"]})
    assert (await ws_receive(ws))["code"] == "unauthorized"
    await notify(client.app, UUID(other["user"]["id"]), "matrix", "Still the new user's")
    assert (await ws_receive(ws, type_="event"))["data"]["title"] == "Still the new user's"
    await ws.close()


def test_a_route_without_a_declaration_stops_the_app():
    async def undeclared(request: web.Request) -> web.Response:
        return web.Response()

    @endpoint("Declared", auth="public")
    async def declared(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/api/v1/new", undeclared)
    app.router.add_get("/api/v1/declared", declared)
    with pytest.raises(RuntimeError, match="GET /api/v1/new") as refused:
        refuse_undeclared_routes(app)
    assert "/api/v1/declared" not in str(refused.value)
    with pytest.raises(TypeError):
        endpoint("Who may call it is not said")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="auth must be one of"):
        endpoint("A misspelt rule", auth="users")
