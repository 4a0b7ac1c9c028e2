"""Models of orders (checkout)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from veza.http import Page

PaymentMethod = Literal["card", "wallet", "bank_redirect", "bank_transfer"]  # Hyperswitch's payment_method
OrderStatus = Literal["pending", "completed", "failed", "refund_pending", "refunded"]
MAX_ITEMS = 50


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: UUID
    quantity: StrictInt = Field(1, ge=1, le=10)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_ITEMS, description="The cart; one line per product")
    payment_method: PaymentMethod = "card"

    @model_validator(mode="after")
    def one_line_per_product(self) -> OrderIn:
        ids = [item.product_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("each product may appear once in items (raise its quantity instead)")
        return self


class OrderItemOut(BaseModel):
    id: UUID
    product_id: UUID
    seller_id: UUID
    title: str
    unit_price_cents: int
    quantity: int
    currency: str


class OrderOut(BaseModel):
    id: UUID
    status: OrderStatus
    items: list[OrderItemOut]
    total_cents: int
    currency: str
    payment_method: str
    created_at: datetime
    paid_at: datetime | None
    failed_at: datetime | None


class PaymentOut(BaseModel):
    payment_id: str
    client_secret: str | None = Field(description="What the buyer's browser confirms the payment with")


class OrderCreated(BaseModel):
    order: OrderOut
    payment: PaymentOut


class OrderList(BaseModel):
    orders: list[OrderOut]
    total: int


class OrdersQuery(Page):
    pass
