"""Models of the payment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

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


TransferStatus = Literal[
    "pending", "completed", "failed", "permanently_failed", "reversal_pending", "reversed", "cancelled"
]


class TransferOut(BaseModel):
    """A seller transfer, as the seller's payout history and the admins' list show it."""

    id: UUID
    seller_id: UUID
    order_id: UUID
    amount_cents: int
    platform_fee_cents: int
    currency: str
    status: TransferStatus
    retry_count: int
    next_retry_at: datetime | None
    created_at: datetime
