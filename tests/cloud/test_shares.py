"""Share links: created with a random token, listed, revoked; public metadata and downloads."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.cloud.helpers import API, FILES, fetch, put_content, table_counts, upload_ok
from tests.factories import register
from veza.cloud import shares
from veza.keys import DB

SHARED = f"{API}/shared"


async def share(client, user, file_id, **body):
    resp = await client.post(f"{FILES}/{file_id}/share", json=body, headers=user["headers"])
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_create_a_share_link(client):
    user = await register(client)
    file = await upload_ok(client, user, b"beat", filename="beat.wav")
    resp = await client.post(f"{FILES}/{file['id']}/share", headers=user["headers"])  # no body: the defaults
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    link = (await resp.json())["data"]
    assert link["share_url"] == f"http://localhost:8080/api/v1/cloud/shared/{link['token']}"
    assert len(link["token"]) >= 43  # 256 bits, URL-safe base64
    assert link["permissions"] == "read"
    assert (link["file_id"], link["download_count"], link["active"], link["revoked_at"]) == (file["id"], 0, True, None)
    expires = datetime.fromisoformat(link["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    stored = await client.app[DB].fetch_one("SELECT * FROM cloud_shares WHERE id = %s", (link["id"],))
    assert bytes(stored["token_hash"]) == shares.hash_token(link["token"])
    assert link["token"].encode() not in repr(stored).encode()  # only the hash is kept

    longer = await share(client, user, file["id"], permissions="read", expires_in_hours=720)
    expires = datetime.fromisoformat(longer["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert longer["token"] != link["token"]


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_hours": 0},
        {"expires_in_hours": 721},
        {"expires_in_hours": -5},
        {"expires_in_hours": 10**30},
        {"expires_in_hours": "soon"},
        {"expires_in_hours": 1.5},
        {"permissions": "write"},
        {"permissions": None},
        {"extra": True},
    ],
)
async def test_invalid_share_requests_are_422_and_create_nothing(client, body):
    user = await register(client)
    file = await upload_ok(client, user)
    resp = await client.post(f"{FILES}/{file['id']}/share", json=body, headers=user["headers"])
    assert resp.status == 422, body
    assert (await table_counts(client.app))["cloud_shares"] == 0


async def test_share_needs_json_and_an_owned_file(client):
    owner, other = await register(client), await register(client)
    file = await upload_ok(client, owner)
    path = f"{FILES}/{file['id']}/share"
    resp = await client.post(path, data="{", headers={**owner["headers"], "Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post(path, data="[]", headers={**owner["headers"], "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await client.post(path, json={}, headers=other["headers"])).status == 404
    assert (await client.post(f"{FILES}/{uuid.uuid4()}/share", json={}, headers=owner["headers"])).status == 404
    assert (await client.post(f"{FILES}/nope/share", json={}, headers=owner["headers"])).status == 404
    assert (await client.post(path, json={})).status == 401
    assert (await table_counts(client.app))["cloud_shares"] == 0


async def test_list_shares(client):
    owner, other = await register(client), await register(client)
    file = await upload_ok(client, owner)
    links = [await share(client, owner, file["id"]) for _ in range(3)]
    await client.delete(f"{API}/shares/{links[0]['id']}", headers=owner["headers"])
    resp = await client.get(f"{FILES}/{file['id']}/shares", headers=owner["headers"])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["total"] == 3
    assert [s["id"] for s in data["shares"]] == [link["id"] for link in reversed(links)]
    assert [s["active"] for s in data["shares"]] == [True, True, False]
    assert all("token" not in s and "share_url" not in s for s in data["shares"])
    page = await (await client.get(f"{FILES}/{file['id']}/shares?limit=1&offset=1", headers=owner["headers"])).json()
    assert ([s["id"] for s in page["data"]["shares"]], page["data"]["total"]) == ([links[1]["id"]], 3)
    assert (await client.get(f"{FILES}/{file['id']}/shares", headers=other["headers"])).status == 404
    assert (await client.get(f"{FILES}/{file['id']}/shares?limit=0", headers=owner["headers"])).status == 422


async def test_public_metadata_shows_no_owner_and_no_key(client):
    user = await register(client)
    file = await upload_ok(client, user, b"x" * 42, filename="Loop.wav", content_type="audio/wav", tags="Loops")
    link = await share(client, user, file["id"])
    resp = await client.get(f"{SHARED}/{link['token']}")  # no token needed
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    data = (await resp.json())["data"]
    assert data == {
        "name": "Loop.wav",
        "size_bytes": 42,
        "content_type": "audio/wav",
        "tags": ["loops"],
        "permissions": "read",
        "expires_at": link["expires_at"],
        "download_url": f"http://localhost:8080/api/v1/cloud/shared/{link['token']}/download",
    }
    body = await resp.text()
    for secret in [user["user"]["id"], user["user"]["email"], user["user"]["username"], file["id"], "storage_key"]:
        assert secret not in body


async def test_public_download_counts_downloads(any_client):
    client = any_client
    user = await register(client)
    file = await upload_ok(client, user, b"0123456789", filename="n\u00e9.txt", content_type="text/plain")
    link = await share(client, user, file["id"])
    path = f"{SHARED}/{link['token']}/download"
    status, headers, body = await fetch(client, path)
    assert (status, body) == (200, b"0123456789")
    assert "attachment" in headers["Content-Disposition"]
    assert (await fetch(client, path, headers={"Range": "bytes=0-3"}))[:3:2] == (206, b"0123")
    assert (await fetch(client, path, headers={"Range": "bytes=4-"}))[:3:2] == (206, b"456789")  # not counted
    assert (await fetch(client, path, headers={"Range": "bytes=-2"}))[:3:2] == (206, b"89")  # not counted
    listing = await client.get(f"{FILES}/{file['id']}/shares", headers=user["headers"])
    assert (await listing.json())["data"]["shares"][0]["download_count"] == 2
    # The link follows the file: new content is what it serves.
    await put_content(client, user, file["id"], b"new content")
    assert (await fetch(client, path))[2] == b"new content"


async def test_s3_downloads_redirect_to_a_short_lived_presigned_url(aiohttp_client, settings, tmp_path, moto_endpoint):
    from tests.cloud.conftest import cloud_settings, s3_changes
    from veza.app import create_app

    client = await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **s3_changes(moto_endpoint))))
    user = await register(client)
    file = await upload_ok(client, user, b"abc")
    link = await share(client, user, file["id"])
    for path, headers in [
        (f"{FILES}/{file['id']}/download", user["headers"]),
        (f"{SHARED}/{link['token']}/download", None),
    ]:
        resp = await client.get(path, headers=headers, allow_redirects=False)
        assert resp.status == 302
        assert resp.headers["Cache-Control"] == "no-store"
        location = resp.headers["Location"]
        assert location.startswith(moto_endpoint)
        assert "X-Amz-Expires=300" in location
        assert "X-Amz-Signature=" in location


async def dead_links(client, user):
    """Links that must all answer the same 404: unknown, malformed, expired, revoked, of a deleted file."""
    file = await upload_ok(client, user, b"x")
    gone = await upload_ok(client, user, b"y")
    expired = await share(client, user, file["id"], expires_in_hours=1)
    await client.app[DB].execute(
        "UPDATE cloud_shares SET expires_at = now() - interval '1 second' WHERE id = %s", (expired["id"],)
    )
    revoked = await share(client, user, file["id"])
    assert (await client.delete(f"{API}/shares/{revoked['id']}", headers=user["headers"])).status == 200
    deleted = await share(client, user, gone["id"])
    await client.delete(f"{FILES}/{gone['id']}", headers=user["headers"])
    live = await share(client, user, file["id"])
    return {
        "unknown": "A" * 43,
        "malformed": "not a token!",
        "long": "x" * 5000,
        "expired": expired["token"],
        "revoked": revoked["token"],
        "deleted": deleted["token"],
        "tampered": live["token"][:-1] + ("A" if live["token"][-1] != "A" else "B"),
    }


async def test_dead_links_all_get_the_same_404(client):
    user = await register(client)
    tokens = await dead_links(client, user)
    answers = set()
    for kind, token in tokens.items():
        for suffix in ["", "/download"]:
            resp = await client.get(f"{SHARED}/{token}{suffix}")
            assert resp.status == 404, kind
            body = await resp.json()
            answers.add((body["error"], body["code"], tuple(map(str, body["details"]))))
    assert answers == {(shares.LINK_NOT_FOUND, "not_found", ())}
    counts = await client.app[DB].fetch_all("SELECT download_count FROM cloud_shares")
    assert {row["download_count"] for row in counts} == {0}


async def test_revoke(client):
    owner, other = await register(client), await register(client)
    file = await upload_ok(client, owner)
    link = await share(client, owner, file["id"])
    assert (await client.delete(f"{API}/shares/{link['id']}", headers=other["headers"])).status == 404
    assert (await client.delete(f"{API}/shares/{link['id']}")).status == 401
    assert (await client.get(f"{SHARED}/{link['token']}")).status == 200  # still live
    resp = await client.delete(f"{API}/shares/{link['id']}", headers=owner["headers"])
    assert resp.status == 200
    revoked = (await resp.json())["data"]
    assert (revoked["active"], revoked["revoked_at"] is not None) == (False, True)
    again = await client.delete(f"{API}/shares/{link['id']}", headers=owner["headers"])
    assert (await again.json())["data"]["revoked_at"] == revoked["revoked_at"]  # the first time is kept
    assert (await client.get(f"{SHARED}/{link['token']}")).status == 404
    for bad in ["not-a-uuid", str(uuid.uuid4())]:
        assert (await client.delete(f"{API}/shares/{bad}", headers=owner["headers"])).status == 404


async def test_public_routes_are_rate_limited_per_address(client, monkeypatch):
    monkeypatch.setattr(shares, "SHARED_HITS_PER_MINUTE", 3)
    user = await register(client)
    link = await share(client, user, (await upload_ok(client, user))["id"])
    statuses = [(await client.get(f"{SHARED}/{token}")).status for token in [link["token"], "A" * 43, link["token"]]]
    assert statuses == [200, 404, 200]
    resp = await client.get(f"{SHARED}/{link['token']}/download")
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await client.get(f"{SHARED}/{link['token']}")).status == 429
