"""Access tokens (JWT) and refresh tokens (opaque, stored as digests)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from uuid import UUID

import jwt

from veza.settings import Settings

REQUIRED_CLAIMS = ["sub", "role", "jti", "iat", "exp", "iss", "aud", "sid"]


@dataclass(frozen=True)
class AuthUser:
    """Who a valid access token speaks for."""

    id: UUID
    role: str
    jti: str
    sid: UUID  # the session (sessions.id) the token was issued in
    exp: int


class InvalidToken(Exception):
    """The reason is the message; it is safe to show."""


def issue_access_token(settings: Settings, user_id: UUID, role: str, session_id: UUID) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.access_token_ttl,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def decode_access_token(settings: Settings, token: str) -> AuthUser:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],  # pinned: "none" and any other alg are refused
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        return AuthUser(
            id=UUID(claims["sub"]),
            role=str(claims["role"]),
            jti=str(claims["jti"]),
            sid=UUID(claims["sid"]),
            exp=int(claims["exp"]),
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("Access token expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise InvalidToken("Invalid access token") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
