"""Models of the seller routes (payouts: onboarding, balance, payout history) and of Stripe's webhook."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from veza.http import Page
from veza.payments.models import TransferOut


class OnboardingOut(BaseModel):
    onboarding_url: str = Field(description="Where the seller fills in the payout provider's onboarding form")


class BalanceQuery(BaseModel):
    currency: Literal["EUR", "USD", "GBP"] = "EUR"


class BalanceOut(BaseModel):
    connected: bool = Field(description="Onboarding done: sales are paid out to the seller's account")
    available: int = Field(description="Cents the seller may be paid out now")
    pending: int = Field(description="Cents on their way to the seller's balance")


class SellerTransferList(BaseModel):
    transfers: list[TransferOut]
    total: int


class TransfersQuery(Page):
    pass


class SandboxOnboardingQuery(BaseModel):
    account: str = Field(max_length=255)
    expires: str = Field(max_length=20)
    signature: str = Field(max_length=128)


class SandboxOnboardingOut(BaseModel):
    account_id: str
    connected: bool
    message: str
