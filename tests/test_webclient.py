"""The browser client's files as the web process serves them: the page with revalidation at each client path,
versioned modules cached for a year, gzip by Accept-Encoding, and a strict Content-Security-Policy."""

import gzip
import re

import pytest

from veza.openapi import build_spec
from veza.webclient import CSP, load_bundle

NO_GZIP = {"Accept-Encoding": "identity"}


def module_paths(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[0-9a-f]+/[^"]+)"', html)


async def test_the_page_answers_at_the_root_and_at_client_paths_with_revalidation(client):
    pages = [await client.get(path, headers=NO_GZIP) for path in ("/", "/catalog", "/live/some-stream", "/s/tok")]
    bodies = {await page.text() for page in pages}
    assert len(bodies) == 1 and "<!doctype html>" in bodies.pop()
    for page in pages:
        assert page.status == 200
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Cache-Control"] == "no-cache"
        assert page.headers["ETag"]
        assert page.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
    again = await client.get("/", headers={**NO_GZIP, "If-None-Match": pages[0].headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""


async def test_modules_are_versioned_and_cached_for_a_year(client):
    html = await (await client.get("/")).text()
    paths = module_paths(html)
    assert any(path.endswith("/app/main.js") for path in paths)
    assert any(path.endswith("/app/style.css") for path in paths)
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP allows none
    for path in paths:
        answer = await client.get(path, headers=NO_GZIP)
        assert answer.status == 200, path
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert answer.headers["Vary"] == "Accept-Encoding"
    script = await client.get(next(p for p in paths if p.endswith("main.js")), headers=NO_GZIP)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"


async def test_answers_are_gzipped_when_the_client_accepts_it(client):
    plain = await client.get("/", headers=NO_GZIP)
    assert "Content-Encoding" not in plain.headers
    main_js = next(p for p in module_paths(await plain.text()) if p.endswith("main.js"))
    for path in ("/", main_js):
        identity = await (await client.get(path, headers=NO_GZIP)).read()
        zipped = await client.get(path, headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.headers["Vary"] == "Accept-Encoding"
        body = await zipped.read()
        assert len(body) < len(identity)
        assert gzip.decompress(body) == identity
    refused = await client.get("/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


@pytest.mark.parametrize(
    "path", ["/nowhere", "/catalogue", "/static/0123456789abcdef/app/main.js", "/static/{version}/app/nope.js"]
)
async def test_other_paths_are_404_with_the_envelope(client, path):
    path = path.format(version=load_bundle().version)
    answer = await client.get(path)
    assert answer.status == 404
    body = await answer.json()
    assert body["success"] is False and body["code"] == "not_found"


async def test_the_api_keeps_its_own_policy_and_the_document_leaves_the_client_out(client, app):
    health = await client.get("/api/v1/health")
    assert health.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    paths = build_spec(app)["paths"]
    assert "/" not in paths and not any(path.startswith(("/static", "/catalog")) for path in paths)


def test_the_version_changes_with_any_served_file(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "vendor").mkdir()
    (tmp_path / "index.html").write_text('<script type="module" src="%STATIC%/app/main.js"></script><!-- %PRELOAD% -->')
    (tmp_path / "app" / "main.js").write_text("console.log(1);")
    first = load_bundle(tmp_path)
    (tmp_path / "app" / "main.js").write_text("console.log(2);")
    second = load_bundle(tmp_path)
    assert first.version != second.version
    assert f"/static/{second.version}/app/main.js" in second.index.body.decode()
    assert '<link rel="modulepreload" href="/static/' in second.index.body.decode()
