"""/auth: register, login, refresh, logout."""

from __future__ import annotations

from aiohttp import web

from veza.auth import service
from veza.auth.models import AuthOut, LoginIn, MessageOut, RefreshIn, RegisterIn
from veza.constants import API_PREFIX
from veza.http import endpoint, ok, refuse_unstorable
from veza.keys import SETTINGS, USER
from veza.ratelimit import client_ip

routes = web.RouteTableDef()

REFRESH_COOKIE = "veza_refresh"
COOKIE_PATH = f"{API_PREFIX}/auth"
NO_STORE = {"Cache-Control": "no-store"}


def session_response(request: web.Request, session: service.Session, status: int = 200) -> web.Response:
    data = {
        "user": {key: session.user[key] for key in ("id", "username", "email")},
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_in": session.expires_in,
    }
    response = ok(data, status=status, headers=NO_STORE)
    response.set_cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        max_age=request.app[SETTINGS].refresh_token_ttl,
        path=COOKIE_PATH,
        httponly=True,
        secure=True,
        samesite="Strict",
    )
    return response


def presented_refresh_token(request: web.Request, body: RefreshIn) -> str | None:
    if body.refresh_token:
        return body.refresh_token
    cookie = request.cookies.get(REFRESH_COOKIE)
    refuse_unstorable(cookie, REFRESH_COOKIE)  # header bytes that are not UTF-8 arrive as lone surrogates
    return cookie


@routes.post("/auth/register")
@endpoint(
    "Register a new user",
    body=RegisterIn,
    response=AuthOut,
    status=201,
    tags=["auth"],
    errors=[409, 429],
    auth="public",
)
async def register(request: web.Request, body: RegisterIn) -> web.Response:
    session = await service.register(request.app, body.username, body.email, body.password, client_ip(request))
    return session_response(request, session, status=201)


@routes.post("/auth/login")
@endpoint(
    "Log in with email and password",
    body=LoginIn,
    response=AuthOut,
    tags=["auth"],
    errors=[401, 423, 429],
    auth="public",
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    session = await service.login(request.app, body.email, body.password, client_ip(request))
    return session_response(request, session)


@routes.post("/auth/refresh")
@endpoint(
    "Trade a refresh token (body or cookie) for a new pair; each refresh token works once",
    body=RefreshIn,
    body_required=False,
    response=AuthOut,
    tags=["auth"],
    errors=[401, 429],
    auth="credential",
)
async def refresh(request: web.Request, body: RefreshIn) -> web.Response:
    token = presented_refresh_token(request, body)
    session = await service.refresh(request.app, token, client_ip(request))
    return session_response(request, session)


@routes.post("/auth/logout")
@endpoint(
    "Log out: end the session of the refresh token (body or cookie) and of the bearer token",
    body=RefreshIn,
    body_required=False,
    response=MessageOut,
    auth="optional",
    tags=["auth"],
)
async def logout(request: web.Request, body: RefreshIn) -> web.Response:
    await service.logout(request.app, presented_refresh_token(request, body), request.get(USER))
    response = ok({"message": "Logged out"}, headers=NO_STORE)
    response.del_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="Strict")
    return response
