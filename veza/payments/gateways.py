"""The gateways the settings name (payments, and Connect for payouts), for the web app and the worker alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from veza.db import Database
from veza.payments.connect import ConnectGateway
from veza.payments.gateway import PaymentGateway
from veza.payments.sandbox import SandboxGateway
from veza.payments.sandbox_connect import SandboxConnect
from veza.settings import Settings


def build_connect_gateway(settings: Settings, db: Database) -> ConnectGateway:
    """The Connect gateway CONNECT_GATEWAY names (payouts to sellers)."""
    if settings.connect_gateway == "stripe":
        from veza.payments.stripe_connect import StripeConnect

        return StripeConnect.from_settings(settings)
    return SandboxConnect(db, settings)


def build_gateway(
    settings: Settings, db: Database, queue_delivery: Callable[[str], Awaitable[None]] | None = None
) -> PaymentGateway:
    """The payment gateway PAYMENT_GATEWAY names; the sandbox's events are queued with `queue_delivery`."""
    if settings.payment_gateway == "hyperswitch":
        from veza.payments.hyperswitch import HyperswitchGateway

        return HyperswitchGateway.from_settings(settings)
    return SandboxGateway(db, queue_delivery)
