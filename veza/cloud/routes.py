"""/cloud: files (multipart uploads, streamed), versions, and expiring share links."""

from __future__ import annotations

from aiohttp import web

from veza.cloud import queries, service, shares
from veza.cloud.models import (
    ContentForm,
    DeletedOut,
    DownloadQuery,
    FileList,
    FileOut,
    FilesQuery,
    FileUpdate,
    NewShareOut,
    SharedFileOut,
    ShareIn,
    ShareList,
    ShareOut,
    UploadForm,
    UsageOut,
    VersionList,
    VersionOut,
)
from veza.cloud.multipart import MultipartSource
from veza.errors import NotFound
from veza.http import Page, endpoint, ok, require_user, uuid_param
from veza.keys import DB
from veza.ratelimit import client_ip
from veza.storage.models import DownloadLinkOut
from veza.storage.serve import link_response, requested_range, serve_blob, serve_download
from veza.tags.normalize import normalize_tag

routes = web.RouteTableDef()

TAGS = ["cloud"]
SHARED_TAGS = ["cloud", "shared"]
UPLOAD_ERRORS = [400, 408, 413, 415, 422]
UPLOAD_FIELDS = frozenset({"name", "tags"})
MAX_VERSION = 2**31 - 1


def version_param(request: web.Request) -> int:
    """A version number in the path; anything else cannot name a version, so it is a 404."""
    raw = request.match_info["version"]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_VERSION:
        raise NotFound("Version not found")
    return int(raw)


@routes.post("/cloud/files")
@endpoint(
    "Upload a file (multipart/form-data: `file`, optional `name` and `tags`, a JSON array or comma-separated)",
    upload=UploadForm,
    response=FileOut,
    status=201,
    auth="user",
    tags=TAGS,
    errors=UPLOAD_ERRORS,
    links={"/cloud/files/{id}": "/data/id"},
)
async def upload_file(request: web.Request) -> web.Response:
    row = await service.upload_file(request.app, require_user(request), MultipartSource(request, UPLOAD_FIELDS))
    return ok(FileOut.model_validate(row), status=201)


@routes.get("/cloud/files")
@endpoint("The caller's files, last changed first", query=FilesQuery, response=FileList, auth="user", tags=TAGS)
async def list_files(request: web.Request, query: FilesQuery) -> web.Response:
    rows, total = await queries.page_files(
        request.app[DB],
        require_user(request).id,
        search=query.search,
        tag=None if query.tag is None else normalize_tag(query.tag),
        limit=query.limit,
        offset=query.offset,
    )
    return ok(FileList(files=rows, total=total))


@routes.get("/cloud/usage")
@endpoint("The caller's storage use, quota and upload limit", response=UsageOut, auth="user", tags=TAGS)
async def usage(request: web.Request) -> web.Response:
    return ok(UsageOut.model_validate(await service.usage(request.app, require_user(request))))


@routes.get("/cloud/files/{id}")
@endpoint("One of the caller's files", response=FileOut, auth="owner", tags=TAGS)
async def get_file(request: web.Request) -> web.Response:
    row = await queries.get_file(request.app[DB], uuid_param(request), require_user(request).id)
    return ok(FileOut.model_validate(row))


@routes.get("/cloud/files/{id}/download")
@endpoint(
    "Download a file, or one of its versions (byte ranges on local storage; a 302 to a presigned URL on S3)",
    query=DownloadQuery,
    auth="owner",
    tags=TAGS,
    content_type="*/*",  # the type the file was stored with
    errors=[416],
)
async def download_file(request: web.Request, query: DownloadQuery) -> web.StreamResponse:
    download = await service.file_download(request.app, require_user(request).id, uuid_param(request), query.version)
    return await serve_download(request, download)


@routes.get("/cloud/files/{id}/download/link")
@endpoint(
    "A short-lived link (no token needed) to a file, or one of its versions: a presigned URL on S3, a signed "
    "link to this API on local storage",
    query=DownloadQuery,
    response=DownloadLinkOut,
    auth="owner",
    tags=TAGS,
)
async def download_link(request: web.Request, query: DownloadQuery) -> web.Response:
    download = await service.file_download(request.app, require_user(request).id, uuid_param(request), query.version)
    return await link_response(request, download)


@routes.put("/cloud/files/{id}/content")
@endpoint(
    "Upload new content (multipart/form-data: `file`); it becomes the next version",
    upload=ContentForm,
    response=FileOut,
    auth="owner",
    tags=TAGS,
    errors=UPLOAD_ERRORS,
)
async def upload_content(request: web.Request) -> web.Response:
    user, file_id = require_user(request), uuid_param(request)
    row = await service.upload_content(request.app, user, file_id, MultipartSource(request))
    return ok(FileOut.model_validate(row))


@routes.patch("/cloud/files/{id}")
@endpoint("Rename a file or change its tags", body=FileUpdate, response=FileOut, auth="owner", tags=TAGS)
async def update_file(request: web.Request, body: FileUpdate) -> web.Response:
    row = await service.update_file(request.app, require_user(request), uuid_param(request), body)
    return ok(FileOut.model_validate(row))


@routes.delete("/cloud/files/{id}")
@endpoint("Delete a file with every version and share link", response=DeletedOut, auth="owner", tags=TAGS, errors=[409])
async def delete_file(request: web.Request) -> web.Response:
    await service.delete_file(request.app, require_user(request), uuid_param(request))
    return ok({"deleted": True})


@routes.get("/cloud/files/{id}/versions")
@endpoint("A file's versions, newest first", response=VersionList, auth="owner", tags=TAGS)
async def list_versions(request: web.Request) -> web.Response:
    rows = await service.list_versions(request.app, require_user(request), uuid_param(request))
    return ok(VersionList(versions=rows))


@routes.post("/cloud/files/{id}/versions")
@endpoint("Snapshot the current content as a new version", response=VersionOut, status=201, auth="owner", tags=TAGS)
async def snapshot(request: web.Request) -> web.Response:
    row = await service.snapshot(request.app, require_user(request), uuid_param(request))
    return ok(VersionOut.model_validate(row), status=201)


@routes.post("/cloud/files/{id}/restore/{version}")
@endpoint(
    "Make a past version's content current again, as a new version (no history is lost)",
    response=FileOut,
    auth="owner",
    tags=TAGS,
)
async def restore(request: web.Request) -> web.Response:
    file_id = uuid_param(request)
    row = await service.restore(request.app, require_user(request), file_id, version_param(request))
    return ok(FileOut.model_validate(row))


@routes.post("/cloud/files/{id}/share")
@endpoint(
    "Create a share link (the token is shown once)",
    body=ShareIn,
    body_required=False,
    response=NewShareOut,
    auth="owner",
    tags=TAGS,
    links={"/cloud/shares/{share_id}": "/data/id", "/cloud/shared/{token}": "/data/token"},
)
async def create_share(request: web.Request, body: ShareIn) -> web.Response:
    share = await shares.create_share(request.app, require_user(request), uuid_param(request), body)
    return ok(NewShareOut.model_validate(share), headers={"Cache-Control": "no-store"})


@routes.get("/cloud/files/{id}/shares")
@endpoint("A file's share links, newest first", query=Page, response=ShareList, auth="owner", tags=TAGS)
async def list_shares(request: web.Request, query: Page) -> web.Response:
    rows, total = await shares.list_shares(
        request.app, require_user(request), uuid_param(request), limit=query.limit, offset=query.offset
    )
    return ok(ShareList(shares=rows, total=total))


@routes.delete("/cloud/shares/{share_id}")
@endpoint("Revoke a share link", response=ShareOut, auth="owner", tags=TAGS)
async def revoke_share(request: web.Request) -> web.Response:
    row = await shares.revoke_share(request.app, require_user(request), uuid_param(request, "share_id"))
    return ok(ShareOut.model_validate(row))


@routes.get("/cloud/shared/{token}")
@endpoint(
    "A shared file's metadata (public, rate-limited)",
    response=SharedFileOut,
    tags=SHARED_TAGS,
    errors=[429],
    auth="credential",
)
async def shared_file(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    row = await shares.open_share(request.app, token, client=client_ip(request))
    data = SharedFileOut(**row, download_url=shares.shared_url(request.app, token, "/download"))
    return ok(data, headers={"Cache-Control": "no-store"})


@routes.get("/cloud/shared/{token}/download")
@endpoint(
    "Download a shared file (public, rate-limited; counted once per download, not per byte range)",
    tags=SHARED_TAGS,
    content_type="*/*",  # the type the file was stored with
    errors=[416, 429],
    auth="credential",
)
async def shared_download(request: web.Request) -> web.StreamResponse:
    byte_range = requested_range(request)
    row, version = await shares.shared_version(
        request.app,
        request.match_info["token"],
        client=client_ip(request),
        count=byte_range is None or byte_range[0] == 0,
    )
    return await serve_blob(request, version["storage_key"], content_type=version["content_type"], filename=row["name"])
