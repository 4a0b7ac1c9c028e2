"""Request and response models for authentication."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from veza.users.models import RegisterFields, UserOut


class RegisterIn(RegisterFields):
    """Body of POST /auth/register."""


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class RefreshIn(BaseModel):
    """The refresh token comes in the body or in the HttpOnly cookie."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(None, max_length=256)


class AuthOut(BaseModel):
    user: UserOut
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires")


class MessageOut(BaseModel):
    message: str
