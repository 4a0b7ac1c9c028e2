"""Models of the payment routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["succeeded", "failed"]


class ConfirmOut(BaseModel):
    payment_id: str
    status: Literal["succeeded", "failed"]
    event_id: str


class WebhookAck(BaseModel):
    received: bool
