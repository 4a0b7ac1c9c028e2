"""The browser client: `static/index.html` at `/` and at the client's own paths, its modules under a versioned prefix.

Everything is read and gzip-compressed once at start-up. The modules live under `/static/<version>/`, where the
version is a hash of every served file, so they are cached for a year (`immutable`) and a new release changes every
URL; `index.html` names them through that prefix and is revalidated on each visit (`no-cache` + ETag).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from veza.errors import NotFound
from veza.http import endpoint

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SERVED_DIRS = ("app", "vendor")
SERVED_SUFFIXES = {".js", ".mjs", ".css", ".svg", ".png", ".ico", ".woff2"}
# Modules every first visit needs: index.html preloads them so the browser fetches them in parallel, not one
# import level after another. Screens load on demand, but the catalog is the home page.
PRELOADED = (
    "vendor/preact.mjs",
    "vendor/hooks.mjs",
    "vendor/htm.mjs",
    "app/main.js",
    "app/api.js",
    "app/ws.js",
    "app/ui.js",
    "app/router.js",
    "app/session.js",
    "app/lib.js",
)
STATIC_PLACEHOLDER = "%STATIC%"
PRELOAD_PLACEHOLDER = "<!-- %PRELOAD% -->"
# The first path segment of every page the client routes itself (history API); anything else stays a 404.
CLIENT_SECTIONS = (
    "login",
    "signup",
    "account",
    "catalog",
    "library",
    "orders",
    "live",
    "go-live",
    "notifications",
    "cloud",
    "s",
    "gear",
    "selling",
    "sell",  # the payout provider's return address after onboarding: /sell/payouts
    "admin",
    "settings",
)
ROUTE_NAME_PREFIX = "client-"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESS_AT_LEAST = 256  # bytes; below that gzip's header costs more than it saves
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str  # of the identity body; the gzip variant's ends in "-gz"


@functools.lru_cache(maxsize=256)
def make_asset(body: bytes, content_type: str) -> Asset:
    """The asset of these bytes (cached: every app a process creates, each test's included, reuses the
    compression rather than paying ~10 ms of gzip -9 again)."""
    gzipped = gzip.compress(body, compresslevel=9, mtime=0) if len(body) >= COMPRESS_AT_LEAST else None
    if gzipped is not None and len(gzipped) >= len(body):
        gzipped = None
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Asset(body, gzipped, content_type, digest)


def content_type_of(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else kind


@dataclass(frozen=True)
class Bundle:
    version: str
    assets: dict[str, Asset]  # by path under static/, e.g. "app/main.js"
    index: Asset

    @property
    def prefix(self) -> str:
        return f"/static/{self.version}"


def load_bundle(root: Path = STATIC_DIR) -> Bundle:
    files = sorted(
        path
        for folder in SERVED_DIRS
        for path in (root / folder).rglob("*")
        if path.is_file() and path.suffix in SERVED_SUFFIXES
    )
    version_hash = hashlib.blake2b(digest_size=8)
    assets = {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        body = path.read_bytes()
        version_hash.update(relative.encode() + b"\0" + body + b"\0")
        assets[relative] = make_asset(body, content_type_of(path))
    version = version_hash.hexdigest()
    prefix = f"/static/{version}"
    preload = "\n    ".join(f'<link rel="modulepreload" href="{prefix}/{n}">' for n in PRELOADED if n in assets)
    html = (root / "index.html").read_text().replace(STATIC_PLACEHOLDER, prefix).replace(PRELOAD_PLACEHOLDER, preload)
    return Bundle(version, assets, make_asset(html.encode(), "text/html; charset=utf-8"))


def accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def asset_response(request: web.Request, asset: Asset, cache_control: str) -> web.Response:
    """The asset, gzipped when the client accepts it; 304 when its ETag matches."""
    compressed = asset.gzipped is not None and accepts_gzip(request)
    etag = f'"{asset.etag}-gz"' if compressed else f'"{asset.etag}"'
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Content-Security-Policy": CSP,
    }
    if etag in (tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")):
        return web.Response(status=304, headers=headers)
    if compressed:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if compressed else asset.body
    return web.Response(body=body, headers={**headers, "Content-Type": asset.content_type})


def add_client_routes(app: web.Application, root: Path = STATIC_DIR) -> Bundle:
    """Serve the browser client from `root`: its page at `/` and at every path it routes, its files versioned."""
    bundle = load_bundle(root)

    @endpoint("The client's single page; the client routes by the path itself", auth="public")
    async def page(request: web.Request) -> web.Response:
        return asset_response(request, bundle.index, REVALIDATE)

    @endpoint("The client's page at one of its sections", auth="public")
    async def section_page(request: web.Request) -> web.Response:
        return asset_response(request, bundle.index, REVALIDATE)

    @endpoint("A file of the client, at its version", auth="public")
    async def static_file(request: web.Request) -> web.Response:
        asset = bundle.assets.get(request.match_info["path"])
        if request.match_info["version"] != bundle.version or asset is None:
            raise NotFound("No such file")
        return asset_response(request, asset, IMMUTABLE)

    app.router.add_get("/", page, name=f"{ROUTE_NAME_PREFIX}index")
    for section in CLIENT_SECTIONS:
        app.router.add_get(f"/{section}", section_page, name=f"{ROUTE_NAME_PREFIX}{section}")
        app.router.add_get(f"/{section}/{{rest:.+}}", section_page, name=f"{ROUTE_NAME_PREFIX}{section}-deep")
    app.router.add_get("/static/{version}/{path:.+}", static_file, name=f"{ROUTE_NAME_PREFIX}static")
    return bundle


def is_client_route(route: web.AbstractRoute) -> bool:
    """A page or file of the browser client, not an operation of the API (the OpenAPI document leaves them out)."""
    return route.resource is not None and (route.resource.name or "").startswith(ROUTE_NAME_PREFIX)
