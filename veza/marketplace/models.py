"""Models of the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from veza.http import Page, PublicPage

Kind = Literal["track", "sample_pack", "preset", "beat", "other"]
Currency = Literal["EUR", "USD", "GBP"]
# `pattern` puts in the schema what stripping enforces: a blank value is refused.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140, pattern=r"\S")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"\S")]
Price = Annotated[StrictInt, Field(gt=0, le=10_000_000, description="Integer cents; at most 100,000.00")]
Sort = Literal["newest", "price_asc", "price_desc", "rating", "popular"]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: str = Field("", max_length=5000)
    kind: Kind
    price_cents: Price
    currency: Currency = "EUR"
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    asset_file_id: UUID = Field(description="A cloud file of the seller's: what buyers get")


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: str | None = Field(None, max_length=5000)
    kind: Kind | None = None
    price_cents: Price | None = None
    currency: Currency | None = None
    tags: list[Tag] | None = Field(None, max_length=20)
    asset_file_id: UUID | None = None


class SellerSummary(BaseModel):
    id: UUID
    username: str


class ProductOut(BaseModel):
    id: UUID
    seller: SellerSummary
    title: str
    description: str
    kind: Kind
    price_cents: int
    currency: str
    tags: list[str]
    rating_avg: float | None
    review_count: int
    sales_count: int
    created_at: datetime
    updated_at: datetime


class SellerProductOut(ProductOut):
    status: Literal["active", "archived"]
    asset_file_id: UUID


class ProductList(BaseModel):
    products: list[ProductOut]
    total: int


class SellerProductList(BaseModel):
    products: list[SellerProductOut]
    total: int


class SellerProfile(BaseModel):
    id: UUID
    username: str
    member_since: datetime
    sales_count: int = Field(description="Sales of the seller's products on sale")
    review_count: int = Field(description="Reviews of the seller's products on sale")
    rating_avg: float | None = Field(description="The average of those reviews' ratings")


class SellerPage(BaseModel):
    seller: SellerProfile
    products: list[ProductOut] = Field(description="The seller's products on sale, newest first")
    total: int


class CatalogQuery(PublicPage):
    search: str | None = Field(None, max_length=200)
    sort: Sort = "newest"


class SellerProductsQuery(Page):
    status: Literal["active", "archived"] | None = None
