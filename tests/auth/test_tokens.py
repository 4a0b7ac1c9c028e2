import base64
import json
import time
import uuid

import jwt
import pytest
from aiohttp import web

from tests.factories import bearer, make_user, register
from veza.app import add_routes, create_app
from veza.http import endpoint, ok, require_user

ME = "/api/v1/users/me"


def forge(settings, **changes):
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "user",
        "sid": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_expired_token_is_401_and_says_so(client, settings):
    user = await register(client)
    token = jwt.encode(forge(settings, sub=user["user"]["id"], exp=int(time.time()) - 10), settings.jwt_secret)
    resp = await client.get(ME, headers=bearer(token))
    assert resp.status == 401
    assert (await resp.json())["error"] == "Access token expired"


@pytest.mark.parametrize(
    "make_token",
    [
        lambda s: jwt.encode(forge(s), "not-the-secret-but-long-enough-for-hs256"),
        lambda s: jwt.encode(forge(s, aud="someone-else"), s.jwt_secret),
        lambda s: jwt.encode(forge(s, iss="evil"), s.jwt_secret),
        lambda s: jwt.encode(forge(s, jti=None), s.jwt_secret),
        lambda s: jwt.encode(forge(s, sub="not-a-uuid"), s.jwt_secret),
        lambda s: jwt.encode(forge(s), s.jwt_secret, algorithm="HS512"),
        lambda s: "not.a.jwt",
        lambda s: "x" * 5000,
    ],
    ids=["wrong-secret", "wrong-audience", "wrong-issuer", "missing-jti", "bad-sub", "other-alg", "garbage", "huge"],
)
async def test_bad_tokens_are_401(client, settings, make_token):
    resp = await client.get(ME, headers=bearer(make_token(settings)))
    assert resp.status == 401
    assert (await resp.json())["error"] == "Invalid access token"


async def test_alg_none_is_refused(client, settings):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(forge(settings, role='admin'))}."
    resp = await client.get(ME, headers=bearer(token))
    assert resp.status == 401


async def test_a_tampered_token_is_refused(client):
    user = await register(client)
    header, payload, signature = user["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    resp = await client.get(ME, headers=bearer(f"{header}.{forged}.{signature}"))
    assert resp.status == 401


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"])
async def test_malformed_authorization_headers_are_401(client, header):
    resp = await client.get(ME, headers={"Authorization": header})
    assert resp.status == 401


async def test_no_token_is_401(client):
    resp = await client.get(ME)
    assert resp.status == 401
    assert (await resp.json())["code"] == "unauthorized"


async def test_public_routes_ignore_a_bad_token(client):
    resp = await client.get("/api/v1/health", headers=bearer("garbage"))
    assert resp.status == 200


routes = web.RouteTableDef()


@routes.get("/admin-only")
@endpoint("An admin-only probe", auth="admin")
async def admin_only(request):
    return ok({"id": str(require_user(request).id)})


@routes.get("/seller-only")
@endpoint("A seller-only probe", auth="seller")
async def seller_only(request):
    return ok({"ok": True})


@pytest.fixture
async def guarded(aiohttp_client, settings):
    app = create_app(settings)
    add_routes(app, routes, "/api/v1/test")
    return await aiohttp_client(app)


async def test_roles_guard_handlers(guarded):
    user = await make_user(guarded)
    seller = await make_user(guarded, role="seller")
    admin = await make_user(guarded, role="admin")
    assert (await guarded.get("/api/v1/test/admin-only")).status == 401
    assert (await guarded.get("/api/v1/test/admin-only", headers=user["headers"])).status == 403
    assert (await guarded.get("/api/v1/test/admin-only", headers=seller["headers"])).status == 403
    assert (await guarded.get("/api/v1/test/admin-only", headers=admin["headers"])).status == 200
    assert (await guarded.get("/api/v1/test/seller-only", headers=user["headers"])).status == 403
    assert (await guarded.get("/api/v1/test/seller-only", headers=seller["headers"])).status == 200
    assert (await guarded.get("/api/v1/test/seller-only", headers=admin["headers"])).status == 200
