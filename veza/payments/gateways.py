"""build_gateway: the payment gateway PAYMENT_GATEWAY names, for the web app and the worker alike."""

from __future__ import annotations

from veza.db import Database
from veza.payments.gateway import PaymentGateway
from veza.payments.sandbox import SandboxGateway
from veza.settings import Settings


def build_gateway(settings: Settings, db: Database) -> PaymentGateway:
    if settings.payment_gateway == "hyperswitch":
        from veza.payments.hyperswitch import HyperswitchGateway

        return HyperswitchGateway.from_settings(settings)
    return SandboxGateway(db)
