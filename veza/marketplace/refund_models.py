"""Models of refunds."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# `pattern` puts in the schema what stripping enforces: a blank reason is refused.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"\S")]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why the refund is requested, e.g. 'Not as described'")
    details: str = Field("", max_length=2000)


class RefundInitiated(BaseModel):
    message: str = Field(description="'Refund initiated': the payment service settles it, a notification follows")
