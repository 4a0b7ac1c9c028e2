"""The sandbox Connect gateway: sellers' accounts, transfers and reversals in its own tables.

Local and deterministic, like the payment sandbox. Onboarding is a signed link to a local route of
the app (`onboarding_link`; the route checks it with `valid_onboarding_link`) that completes it when
opened. Transfers land on the account pending and become available after AVAILABLE_AFTER, as a
rolling payout schedule does. Tests make it fail: `fail_next_transfers(db, account_id, n)` fails the
next n transfers to an account (GatewayRefused, as a refused transfer), and `unavailable = True`
makes every call fail as a gateway that does not answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

import yarl

from veza.constants import API_PREFIX
from veza.db import Database, Executor, Row, transaction
from veza.payments.connect import Balance, ConnectAccount, Reversal, Transfer
from veza.payments.gateway import GatewayRefused, GatewayUnavailable
from veza.settings import Settings

AVAILABLE_AFTER = timedelta(days=2)
ONBOARDING_LINK_SECONDS = 3600
ONBOARDING_PATH = f"{API_PREFIX}/sell/connect/sandbox/complete"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _link_signature(settings: Settings, account_id: str, expires: int) -> str:
    message = f"sandbox-onboarding:{account_id}:{expires}".encode()
    return hmac.new(settings.signing_secret.encode(), message, hashlib.sha256).hexdigest()


def valid_onboarding_link(settings: Settings, account_id: str, expires: str, signature: str) -> bool:
    """Whether the onboarding link's query (`account`, `expires`, `signature`) is one we made and still valid."""
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(_link_signature(settings, account_id, int(expires)), signature)


def expired_onboarding_link(settings: Settings, account_id: str, expires: str, signature: str) -> bool:
    """Whether the link is one we made whose time is up (a link to ask again for, not a forged one)."""
    if not expires.isdigit() or int(expires) >= time.time():
        return False
    return hmac.compare_digest(_link_signature(settings, account_id, int(expires)), signature)


async def fail_next_transfers(db: Executor, account_id: str, count: int) -> None:
    """Tests: the next `count` transfers to this account are refused."""
    await db.execute("UPDATE sandbox_connect_accounts SET failing_transfers = %s WHERE id = %s", (count, account_id))


def _transfer(row: Row) -> Transfer:
    return Transfer(row["id"], row["destination"], row["amount"], row["currency"], row["amount_reversed"])


class SandboxConnect:
    name = "sandbox"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.unavailable = False  # tests: play an outage

    def _answer(self) -> None:
        if self.unavailable:
            raise GatewayUnavailable("The payout service is unavailable")

    async def _account(self, db: Executor, account_id: str) -> Row:
        row = await db.fetch_one(
            "SELECT id, onboarded, failing_transfers FROM sandbox_connect_accounts WHERE id = %s", (account_id,)
        )
        if row is None:
            raise GatewayRefused(f"No such account: {account_id}")
        return row

    async def create_account(self, *, email: str, idempotency_key: str) -> ConnectAccount:
        self._answer()
        row = await self.db.fetch_one(
            """
            WITH made AS (
                INSERT INTO sandbox_connect_accounts (id, idempotency_key, email) VALUES (%s, %s, %s)
                ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, onboarded
            )
            SELECT id, onboarded FROM made
            UNION ALL SELECT id, onboarded FROM sandbox_connect_accounts WHERE idempotency_key = %s
            LIMIT 1
            """,
            (_new_id("acct"), idempotency_key, email, idempotency_key),
        )
        return ConnectAccount(row["id"], row["onboarded"])

    async def retrieve_account(self, account_id: str) -> ConnectAccount:
        self._answer()
        row = await self._account(self.db, account_id)
        return ConnectAccount(row["id"], row["onboarded"])

    async def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        self._answer()
        await self._account(self.db, account_id)
        expires = int(time.time()) + ONBOARDING_LINK_SECONDS
        query = {
            "account": account_id,
            "expires": str(expires),
            "signature": _link_signature(self.settings, account_id, expires),
        }
        return str(yarl.URL(self.settings.public_url).with_path(ONBOARDING_PATH).with_query(query))

    async def complete_onboarding(self, account_id: str) -> ConnectAccount:
        """What opening the onboarding link does: the account can receive transfers."""
        self._answer()
        await self.db.execute("UPDATE sandbox_connect_accounts SET onboarded = true WHERE id = %s", (account_id,))
        return await self.retrieve_account(account_id)

    async def balance(self, account_id: str, currency: str) -> Balance:
        self._answer()
        await self._account(self.db, account_id)
        row = await self.db.fetch_one(
            """
            SELECT coalesce(sum(amount - amount_reversed) FILTER (WHERE created_at <= now() - %(after)s), 0)
                       AS available,
                   coalesce(sum(amount - amount_reversed) FILTER (WHERE created_at > now() - %(after)s), 0)
                       AS pending
            FROM sandbox_transfers WHERE destination = %(account)s AND currency = %(currency)s
            """,
            {"account": account_id, "currency": currency, "after": AVAILABLE_AFTER},
        )
        return Balance(int(row["available"]), int(row["pending"]), currency)

    async def create_transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        source_transaction: str | None,
        idempotency_key: str,
    ) -> Transfer:
        self._answer()
        if (done := await self._transfer_by_key(idempotency_key)) is not None:
            return done  # the same key: the same transfer, never a second one
        account = await self._account(self.db, destination)
        if not account["onboarded"]:
            raise GatewayRefused("The destination account has not completed onboarding")
        told_to_fail = await self.db.fetch_val(
            """
            UPDATE sandbox_connect_accounts SET failing_transfers = failing_transfers - 1
            WHERE id = %s AND failing_transfers > 0 RETURNING id
            """,
            (destination,),
        )
        if told_to_fail:
            raise GatewayRefused("The sandbox was told to fail this transfer")
        await self.db.execute(
            """
            INSERT INTO sandbox_transfers
                (id, idempotency_key, destination, amount, currency, transfer_group, source_transaction)
            VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            (_new_id("tr"), idempotency_key, destination, amount, currency, transfer_group, source_transaction),
        )
        return await self._transfer_by_key(idempotency_key)

    async def _transfer_by_key(self, idempotency_key: str) -> Transfer | None:
        row = await self.db.fetch_one("SELECT * FROM sandbox_transfers WHERE idempotency_key = %s", (idempotency_key,))
        return None if row is None else _transfer(row)

    async def reverse_transfer(self, transfer_id: str, *, amount: int, idempotency_key: str) -> Reversal:
        self._answer()
        async with transaction(self.db) as tx:
            done = await tx.fetch_one(
                "SELECT * FROM sandbox_transfer_reversals WHERE idempotency_key = %s", (idempotency_key,)
            )
            if done is not None:
                return Reversal(done["id"], done["transfer_id"], done["amount"])
            transfer = await tx.fetch_one("SELECT * FROM sandbox_transfers WHERE id = %s FOR UPDATE", (transfer_id,))
            if transfer is None:
                raise GatewayRefused(f"No such transfer: {transfer_id}")
            if transfer["amount_reversed"] + amount > transfer["amount"]:
                raise GatewayRefused("The reversal is larger than what is left of the transfer")
            await tx.execute(
                "UPDATE sandbox_transfers SET amount_reversed = amount_reversed + %s WHERE id = %s",
                (amount, transfer_id),
            )
            row = await tx.fetch_one(
                """
                INSERT INTO sandbox_transfer_reversals (id, idempotency_key, transfer_id, amount)
                VALUES (%s, %s, %s, %s) RETURNING *
                """,
                (_new_id("trr"), idempotency_key, transfer_id, amount),
            )
        return Reversal(row["id"], row["transfer_id"], row["amount"])

    async def close(self) -> None:
        return None
