"""Downloads: the client asks the API for a short-lived link and lets the browser save what it points at, so the
page never fetches the file itself; a link on another origin (S3's) is not stopped by the page's CSP, whose
`connect-src 'self'` governs fetch(), not navigation."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from playwright.sync_api import expect

from veza.storage import content_disposition

LINK_ROUTE = re.compile(r"/api/v1/cloud/files/[0-9a-f-]{36}/download/link$")
BYTES_ROUTE = re.compile(r"/api/v1/cloud/files/[0-9a-f-]{36}/download(\?|$)")


def presigned_on_moto(endpoint: str, content: bytes, filename: str) -> str:
    """An object in a bucket of its own on the moto server and a SigV4 presigned URL that downloads it."""
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )
    bucket = f"veza-browser-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="cloud/file", Body=content, ContentType="text/plain")
    params = {"Bucket": bucket, "Key": "cloud/file", "ResponseContentDisposition": content_disposition(filename)}
    return s3.generate_presigned_url("get_object", Params=params, ExpiresIn=300)


def test_a_download_is_saved_from_the_link_and_never_fetched_by_the_page(signed_in, user, stack):
    page = signed_in
    content = b"kick, snare, hat\n" * 1000
    stack.upload(user["token"], "groove.txt", content, content_type="text/plain")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/cloud")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download groove.txt").click()

    assert Path(downloading.value.path()).read_bytes() == content
    assert downloading.value.suggested_filename == "groove.txt"
    assert "/api/v1/storage/local/" in downloading.value.url  # the signed link, not the route that needs a token
    assert [url for url in requests if LINK_ROUTE.search(url)], requests
    assert not [url for url in requests if BYTES_ROUTE.search(url)], requests
    expect(page).to_have_url(re.compile(r"/cloud$"))


def test_a_link_to_s3s_origin_downloads_under_the_pages_csp(signed_in, user, stack, moto_endpoint):
    """The stack runs on local storage: the link route's answer is replaced by a real presigned URL of the moto
    S3 server, another origin, as the API answers on S3 (tests/test_download_links.py checks that answer)."""
    page = signed_in
    stack.upload(user["token"], "mix.txt", b"the local copy\n", content_type="text/plain")
    content = b"the copy in S3\n"
    url = presigned_on_moto(moto_endpoint, content, "mix from S3.txt")
    link = {"success": True, "data": {"url": url, "expires_at": "2099-01-01T00:00:00Z"}}
    page.route(LINK_ROUTE, lambda route: route.fulfill(json=link, headers={"Cache-Control": "no-store"}))
    page.goto("/cloud")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download mix.txt").click()

    assert downloading.value.url == url
    assert Path(downloading.value.path()).read_bytes() == content
    assert downloading.value.suggested_filename == "mix from S3.txt"
    expect(page).to_have_url(re.compile(r"/cloud$"))  # saved, not navigated away from the page
