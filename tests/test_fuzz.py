"""Schemathesis over every operation of the OpenAPI document, anonymous and authenticated, with real ids.

No input may produce a 5xx, and every answer (status, content type, headers, body) must be one the
document describes. The run is seeded (VEZA_FUZZ_SEED tries another); VEZA_FUZZ_EXAMPLES (default 5
per operation) makes it longer, as `make fuzz` does.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from tests.factories import checkout, make_product, make_user, paid_order, upload_file
from tests.gear.helpers_docs import make_item, upload_document
from veza.app import create_app
from veza.keys import DB, STORAGE
from veza.notifications.service import notify

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("VEZA_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("VEZA_FUZZ_SEED", "20261201"))
SECRET = "rtmp-callback-secret-for-fuzzing"
API = "/api/v1"

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


@pytest.fixture
def app(settings):
    return create_app(settings.model_copy(update={"rtmp_callback_secret": SECRET}))


async def real_ids(client) -> dict[str, Any]:
    """A user with one of everything the operations name: files (one with two versions), a product, one bought,
    a stream, a share link, a notification, a signed storage link, a sandbox onboarding link, a gear item
    with documents."""
    user = await make_user(client)
    headers = user["headers"]
    file = await upload_file(client, user)
    doomed = await upload_file(client, user, name="to-delete.wav")
    assert (await client.post(f"{API}/cloud/files/{file['id']}/versions", headers=headers)).status == 201
    product = await make_product(client, user)
    bought = await make_product(client, await make_user(client), title="Bought")
    paid = await paid_order(client, user, bought)
    refundable = await paid_order(client, user, await make_product(client, await make_user(client), title="Refunded"))
    order = await checkout(client, user, await make_product(client, await make_user(client)))
    resp = await client.post(f"{API}/live/streams", json={"title": "Fuzzing session"}, headers=headers)
    stream = (await resp.json())["data"]
    resp = await client.post(f"{API}/cloud/files/{file['id']}/share", json={}, headers=headers)
    share = (await resp.json())["data"]
    note = await notify(client.app, UUID(user["user"]["id"]), "fuzz", "A notification to read")
    key = await client.app[DB].fetch_val(
        "SELECT storage_key FROM cloud_file_versions WHERE file_id = %s AND version = 1", (file["id"],)
    )
    link = urlsplit(await client.app[STORAGE].presign(key, 3600, "beat.wav"))
    signed = {name: values[0] for name, values in parse_qs(link.query).items()}
    gear = await make_item(client.app, user)
    document = (await (await upload_document(client, user, gear)).json())["data"]
    doomed_document = (await (await upload_document(client, user, gear)).json())["data"]
    resp = await client.post(f"{API}/sell/connect/onboard", headers=headers)
    onboarding = urlsplit((await resp.json())["data"]["onboarding_url"])
    onboarding_link = {name: values[0] for name, values in parse_qs(onboarding.query).items()}
    gear_body = {"name": "Fuzzed mic", "purchase_date": "2024-02-29", "warranty_months": 24}
    gear = (await (await client.post(f"{API}/inventory/gear", json=gear_body, headers=headers)).json())["data"]
    doomed_gear = (await (await client.post(f"{API}/inventory/gear", json=gear_body, headers=headers)).json())["data"]
    repair_body = {"repair_date": "2025-01-10", "description": "Cleaned the grille"}
    resp = await client.post(f"{API}/inventory/gear/{gear['id']}/repairs", json=repair_body, headers=headers)
    repair = (await resp.json())["data"]
    return {
        "token": user["access_token"],
        "operations": [
            # Multipart fields have no types: a "number" sent as a form field is just text, which the
            # document allows, so a type mutation there is not invalid input (Schemathesis counts it so).
            {"include-operation-id": "post_upload_file", "checks": MULTIPART_CHECKS},
            {
                "include-operation-id": "put_upload_content",
                "parameters": {"id": file["id"]},
                "checks": MULTIPART_CHECKS,
            },
            # the first that matches an operation applies: the deletion gets a file of its own
            {"include-operation-id": "delete_delete_file", "parameters": {"id": doomed["id"]}},
            {"include-path-regex": r"^/api/v1/cloud/files/\{id\}", "parameters": {"id": file["id"], "version": 1}},
            {"include-path-regex": r"^/api/v1/cloud/shares/", "parameters": {"share_id": share["id"]}},
            {"include-path-regex": r"^/api/v1/cloud/shared/", "parameters": {"token": share["token"]}},
            # the user reviews a product they bought, and downloads and changes one they sell
            {"include-path-regex": r"^/api/v1/marketplace/products/\{id\}/reviews", "parameters": {"id": bought["id"]}},
            {"include-path-regex": r"^/api/v1/marketplace/products/", "parameters": {"id": product["id"]}},
            {"include-operation-id": "get_download_invoice", "parameters": {"id": paid["id"]}},
            {"include-operation-id": "get_invoice_link", "parameters": {"id": paid["id"]}},
            # the user asks for a refund of an order they paid; the other order routes get the pending one
            {"include-operation-id": "post_request_refund", "parameters": {"id": refundable["id"]}},
            {"include-path-regex": r"^/api/v1/marketplace/orders/", "parameters": {"id": order["order"]["id"]}},
            {
                "include-path-regex": r"^/api/v1/payments/sandbox/",
                "parameters": {"payment_id": order["payment"]["payment_id"]},
            },
            {"include-path-regex": r"^/api/v1/live/streams/\{id\}", "parameters": {"id": stream["id"]}},
            {"include-operation-id": "delete_delete_gear_item", "parameters": {"id": doomed_gear["id"]}},
            {
                "include-path-regex": r"^/api/v1/inventory/gear/\{id\}",
                "parameters": {"id": gear["id"], "repairId": repair["id"]},
            },
            {"include-path-regex": r"^/api/v1/notifications/\{id\}", "parameters": {"id": str(note["id"])}},
            {"include-path-regex": r"^/api/v1/storage/local/", "parameters": {"key": key, **signed}},
            {"include-path-regex": r"^/api/v1/live/rtmp/", "parameters": {"secret": SECRET}},
            {"include-path-regex": r"^/api/v1/sell/connect/sandbox/", "parameters": onboarding_link},
            {
                "include-operation-id": "post_upload_document",
                "parameters": {"id": gear},
                "checks": MULTIPART_CHECKS,
            },
            {
                "include-operation-id": "delete_delete_document",
                "parameters": {"id": gear, "doc_id": doomed_document["id"]},
            },
            {
                "include-path-regex": r"^/api/v1/inventory/gear/\{id\}/documents",
                "parameters": {"id": gear, "doc_id": document["id"]},
            },
        ],
    }


def run_schemathesis(
    spec: dict, base_url: str, ids: dict[str, Any], headers: dict[str, str]
) -> tuple[list[str], dict[str, set[int]]]:
    """Every operation, every phase but the stateful one: the failures, described, and the statuses seen."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "headers": headers,
            "workers": 1,
            "cache": {"enabled": False},  # every run the same, and nothing left behind
            "generation": {"max-examples": EXAMPLES, "database": "none", "no-shrink": True},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "operations": ids["operations"],
        }
    )
    schema = schemathesis.openapi.from_dict(spec, config=config)
    failures: list[str] = []
    tested: set[str] = set()
    statuses: dict[str, set[int]] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tested.add(event.recorder.label)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
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
    skipped = {op["include-path"] for op in ids["operations"] if op.get("enabled") is False}
    untested = {
        f"{method.upper()} {path}" for path, ops in spec["paths"].items() if path not in skipped for method in ops
    } - tested
    assert not untested, f"operations never tested: {sorted(untested)}"
    return sorted(set(failures)), statuses


def _answer(interaction) -> str:
    response = interaction.response if interaction is not None else None
    if response is None:
        return "no answer"
    return f"{response.status_code} {(response.content or b'')[:300]!r}"


async def fuzz(client, headers: dict[str, str], skip: list[str] = ()) -> tuple[list[str], dict[str, set[int]]]:
    ids = await real_ids(client)
    ids["operations"] += [{"include-path": path, "enabled": False} for path in skip]
    spec = await (await client.get(f"{API}/openapi.json")).json()
    base_url = f"http://{client.host}:{client.port}"
    auth = {k: v.replace("{token}", ids["token"]) for k, v in headers.items()}
    return await asyncio.to_thread(run_schemathesis, spec, base_url, ids, auth)


async def test_anonymous(client):
    failures, _ = await fuzz(client, {})
    assert failures == [], "\n\n".join(failures)


# Operations whose success may need what generated input cannot guess: a handshake, a password, a stream
# key or a live stream's id in the form, one of the caller's files in the body, the metrics token,
# products on sale in a cart, a webhook's signature.
NEVER_2XX = {
    "GET /api/v1/ws",
    "POST /api/v1/auth/login",
    "POST /api/v1/live/rtmp/on_publish",
    "POST /api/v1/live/rtmp/on_play",
    "POST /api/v1/live/rtmp/on_play_done",
    "POST /api/v1/marketplace/products",
    "POST /api/v1/marketplace/orders",
    "POST /api/v1/webhooks/hyperswitch",
    "POST /api/v1/webhooks/stripe",
    "GET /api/v1/metrics",
    "GET /metrics",
    "GET /api/v1/admin/transfers",  # admins only: the fuzzing user is not one (tests/payments/test_admin_transfers.py)
    "POST /api/v1/admin/transfers/{id}/retry",
    "DELETE /api/v1/users/me",  # needs the password, which fuzzing never guesses (tests/users/test_deletion.py)
}


async def test_authenticated(client):
    # Logging out would end the session the run authenticates with; the anonymous run covers it.
    failures, statuses = await fuzz(client, {"Authorization": "Bearer {token}"}, skip=[f"{API}/auth/logout"])
    assert failures == [], "\n\n".join(failures)
    unreached = {operation for operation, seen in statuses.items() if not any(200 <= s < 300 for s in seen)}
    assert unreached <= NEVER_2XX  # the real ids let every other operation reach its code
