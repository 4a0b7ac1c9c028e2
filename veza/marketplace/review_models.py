"""Models of product reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Rating = Annotated[StrictInt, Field(ge=1, le=5, description="1 to 5 stars")]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating
    comment: str = Field("", max_length=2000)


class Reviewer(BaseModel):
    id: UUID
    username: str


class ReviewOut(BaseModel):
    id: UUID
    product_id: UUID
    buyer_id: UUID
    order_id: UUID = Field(description="The completed order that holds the product")
    rating: int
    comment: str
    created_at: datetime
    buyer: Reviewer


class ReviewList(BaseModel):
    reviews: list[ReviewOut]
    total: int
