"""Schemathesis over every operation of the OpenAPI document, with real objects in every domain, called
anonymously and as a user, a seller and an admin.

No input may produce a 5xx or a server error in the log, and every answer (status, content type,
headers, body) must be one the document describes. The run is seeded (VEZA_FUZZ_SEED tries another);
VEZA_FUZZ_EXAMPLES (default 5 per operation) makes it longer and VEZA_FUZZ_STATEFUL=1 adds the stateful
phase (sequences that follow the document's links), as `make fuzz` does.

Operations that end the caller's session or change its password (DESTROYS_THE_CALLER) are left out of
the runs that share one user, and fuzzed in a run of their own with a user of their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from tests.factories import make_user, upload_file
from tests.gear.helpers_docs import upload_document
from tests.world import API, SETTINGS_UPDATE, World, make_world
from veza.app import create_app
from veza.serve import CappedTCPSite

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("VEZA_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("VEZA_FUZZ_SEED", "20261201"))
STATEFUL = os.environ.get("VEZA_FUZZ_STATEFUL", "") == "1"

# What the document promises, checked on every answer; and what it says about input (invalid input is
# refused, an unexpected method is a 405 with the right Allow).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "ignored_auth",
]
MULTIPART_CHECKS = {"negative_data_rejection": {"enabled": False}}
# Ending the session the run authenticates with, or changing its password, would turn the rest of a
# shared run into 401s: these get a run and a user of their own.
DESTROYS_THE_CALLER = {"POST /api/v1/auth/logout", "PATCH /api/v1/users/me", "DELETE /api/v1/users/me"}


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update=SETTINGS_UPDATE))


async def real_ids(client, world: World) -> list[dict[str, Any]]:
    """Per-operation settings that name the owner's real objects (tests/world.py), plus objects of their
    own for the operations that delete."""
    ids = world.ids
    owner = world.users["owner"]
    headers = owner["headers"]
    doomed = await upload_file(client, owner, name="to-delete.wav")
    gear_body = {"name": "Doomed mic", "purchase_date": "2024-02-29", "warranty_months": 24}
    doomed_gear = (await (await client.post(f"{API}/inventory/gear", json=gear_body, headers=headers)).json())["data"]
    doomed_document = (await (await upload_document(client, owner, ids["gear"])).json())["data"]
    export = (await (await client.post(f"{API}/users/me/export", headers=headers)).json())["data"]
    gear, order = ids["gear"], ids["order"]
    return [
        # Multipart fields have no types: a "number" sent as a form field is just text, which the
        # document allows, so a type mutation there is not invalid input (Schemathesis counts it so).
        {"include-operation-id": "post_upload_file", "checks": MULTIPART_CHECKS},
        {"include-operation-id": "put_upload_content", "parameters": {"id": ids["file"]}, "checks": MULTIPART_CHECKS},
        # the first that matches an operation applies: the deletions get objects of their own
        {"include-operation-id": "delete_delete_file", "parameters": {"id": doomed["id"]}},
        {"include-path-regex": r"^/api/v1/cloud/files/\{id\}", "parameters": {"id": ids["file"], "version": 1}},
        {"include-path-regex": r"^/api/v1/cloud/shares/", "parameters": {"share_id": ids["share"]}},
        {"include-path-regex": r"^/api/v1/cloud/shared/", "parameters": {"token": ids["share_token"]}},
        # the owner reviews and downloads a product they bought, and changes one they sell
        {
            "include-path-regex": r"^/api/v1/marketplace/products/\{id\}/(reviews|download)",
            "parameters": {"id": ids["bought_product"]},
        },
        {"include-path-regex": r"^/api/v1/marketplace/products/", "parameters": {"id": ids["product"]}},
        {"include-operation-id": "post_request_refund", "parameters": {"id": ids["refund_orders"]["owner"]}},
        {"include-path-regex": r"^/api/v1/marketplace/orders/", "parameters": {"id": order}},
        {"include-path-regex": r"^/api/v1/payments/sandbox/", "parameters": {"payment_id": ids["payment"]}},
        {"include-path-regex": r"^/api/v1/admin/transfers/", "parameters": {"id": ids["failed_transfer"]}},
        {"include-path-regex": r"^/api/v1/users/me/exports/", "parameters": {"id": export["export_id"]}},
        {"include-path-regex": r"^/api/v1/live/streams/\{id\}", "parameters": {"id": ids["stream"]}},
        {"include-operation-id": "delete_delete_gear_item", "parameters": {"id": doomed_gear["id"]}},
        {"include-operation-id": "post_upload_document", "parameters": {"id": gear}, "checks": MULTIPART_CHECKS},
        {"include-operation-id": "delete_delete_document", "parameters": {"id": gear, "doc_id": doomed_document["id"]}},
        {
            "include-path-regex": r"^/api/v1/inventory/gear/\{id\}/documents",
            "parameters": {"id": gear, "doc_id": ids["document"]},
        },
        {
            "include-path-regex": r"^/api/v1/inventory/gear/\{id\}",
            "parameters": {"id": gear, "repairId": ids["repair"]},
        },
        {"include-path-regex": r"^/api/v1/notifications/\{id\}", "parameters": {"id": ids["notification"]}},
        {
            "include-path-regex": r"^/api/v1/storage/local/",
            "parameters": {"key": ids["storage_key"], **ids["storage_link"]},
        },
        {
            "include-path-regex": r"^/api/v1/live/rtmp/",
            "parameters": {"secret": SETTINGS_UPDATE["rtmp_callback_secret"]},
        },
        {"include-path-regex": r"^/api/v1/sell/connect/sandbox/", "parameters": ids["onboarding_link"]},
    ]


def run_schemathesis(
    spec: dict, base_url: str, operations: list[dict[str, Any]], headers: dict[str, str], only: set[str]
) -> tuple[list[str], dict[str, set[int]], dict[str, Any]]:
    """The operations named in `only`, every phase (the stateful one with VEZA_FUZZ_STATEFUL=1): the
    failures, described, the statuses each operation answered, and figures of the run."""
    skipped = [
        {"include-operation-id": operation["operationId"], "enabled": False}
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if f"{method.upper()} {path}" not in only
    ]
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "headers": headers,
            "workers": 1,
            "cache": {"enabled": False},  # every run the same, and nothing left behind
            "generation": {"max-examples": EXAMPLES, "database": "none", "no-shrink": True},
            # the stateful phase follows links; the destroying operations make nothing to link to
            "phases": {"stateful": {"enabled": STATEFUL and not only <= DESTROYS_THE_CALLER}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "operations": skipped + operations,
        }
    )
    schema = schemathesis.openapi.from_dict(spec, config=config)
    failures: list[str] = []
    tested: set[str] = set()
    statuses: dict[str, set[int]] = {}
    figures = {"requests": 0, "stateful_requests": 0}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            stateful = event.phase.name == "STATEFUL_TESTING"
            if not stateful:
                tested.add(event.recorder.label)
            for interaction in event.recorder.interactions.values():
                if interaction.response is None:
                    continue
                figures["stateful_requests" if stateful else "requests"] += 1
                if not stateful:  # a stateful scenario's label is its first operation's
                    statuses.setdefault(event.recorder.label, set()).add(interaction.response.status_code)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        answer = _answer(event.recorder.interactions.get(case_id))
                        failures.append(
                            f"{event.recorder.label}: {failure.title}: {failure.message}\n"
                            f"    {check.failure_info.code_sample}\n    -> {answer}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'label', '')} {getattr(event, 'info', None) or event}")
    untested = only - tested
    assert not untested, f"operations never tested: {sorted(untested)}"
    figures["operations"] = len(tested)
    return sorted(set(failures)), statuses, figures


def _answer(interaction) -> str:
    response = interaction.response if interaction is not None else None
    if response is None:
        return "no answer"
    return f"{response.status_code} {(response.content or b'')[:300]!r}"


async def fuzz(client, caplog, caller: str | None, *, destroying: bool = False) -> dict[str, set[int]]:
    """Fuzz as `caller` (None: anonymous) every operation but the destroying ones, or only those."""
    world = await make_world(client)
    operations = await real_ids(client, world)
    spec = await (await client.get(f"{API}/openapi.json")).json()
    every = {f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods}
    only = every & DESTROYS_THE_CALLER if destroying else every - DESTROYS_THE_CALLER
    if caller == "own user":
        headers = (await make_user(client))["headers"]
    else:
        headers = world.headers(caller) if caller else {}
    # served as in production (veza.serve's protocol), so that what its parser refuses gets the envelope
    site = CappedTCPSite(client.server.runner, "127.0.0.1", 0, per_address=0)
    await site.start()
    base_url = f"http://127.0.0.1:{site.port}"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        failures, statuses, figures = await asyncio.to_thread(
            run_schemathesis, spec, base_url, operations, headers, only
        )
    print(f"fuzz as {caller or 'anonymous'}: {figures}, {time.monotonic() - started:.1f} s")
    server_errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], "\n\n".join(failures)
    assert server_errors == []
    return statuses


def reached(statuses: dict[str, set[int]]) -> set[str]:
    return {operation for operation, seen in statuses.items() if any(200 <= s < 300 for s in seen)}


# Operations whose success may need what generated input cannot guess: a handshake, a password, a stream
# key or a live stream's id in the form, one of the caller's files in the body, the metrics token,
# products on sale in a cart, a webhook's signature; or a role the caller does not have.
NEVER_2XX = {
    "GET /api/v1/ws",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/live/rtmp/on_publish",
    "POST /api/v1/live/rtmp/on_play",
    "POST /api/v1/live/rtmp/on_play_done",
    "POST /api/v1/marketplace/products",
    "POST /api/v1/marketplace/orders",
    "POST /api/v1/webhooks/hyperswitch",
    "POST /api/v1/webhooks/stripe",
    "GET /api/v1/metrics",
    "GET /metrics",
    "GET /api/v1/admin/transfers",  # admins only: the admin run reaches them
    "POST /api/v1/admin/transfers/{id}/retry",
    "DELETE /api/v1/users/me",  # needs the password, which fuzzing never guesses (tests/users/test_deletion.py)
}
ADMIN_ONLY = {"GET /api/v1/admin/transfers", "GET /api/v1/metrics", "GET /metrics"}


async def test_anonymous(client, caplog):
    await fuzz(client, caplog, None)


async def test_as_a_user(client, caplog):
    statuses = await fuzz(client, caplog, "owner")
    unreached = set(statuses) - reached(statuses)
    assert unreached <= NEVER_2XX  # the real ids let every other operation reach its code


async def test_as_a_seller(client, caplog):
    statuses = await fuzz(client, caplog, "seller")
    # the seller of the owner's order reaches it; the owner's own objects stay 404 to them
    assert {"GET /api/v1/marketplace/orders/{id}", "GET /api/v1/sell/transfers"} <= reached(statuses)
    assert "GET /api/v1/cloud/files/{id}" not in reached(statuses)


async def test_as_an_admin(client, caplog):
    statuses = await fuzz(client, caplog, "admin")
    assert ADMIN_ONLY <= reached(statuses)


async def test_operations_that_end_the_session_with_a_user_of_their_own(client, caplog):
    await fuzz(client, caplog, "own user", destroying=True)
