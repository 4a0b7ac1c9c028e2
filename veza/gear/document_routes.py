"""/inventory/gear/{id}/documents: upload (multipart, streamed), list, download (byte ranges) or a link, delete."""

from __future__ import annotations

from aiohttp import web

from veza.gear import document_queries as queries
from veza.gear import documents
from veza.gear.document_models import DocumentDeletedOut, DocumentForm, DocumentList, DocumentOut, DocumentsQuery
from veza.http import endpoint, ok, require_user, uuid_param
from veza.keys import DB
from veza.storage import Download
from veza.storage.models import DownloadLinkOut
from veza.storage.serve import link_response, serve_download

routes = web.RouteTableDef()

TAGS = ["gear"]
UPLOAD_ERRORS = [400, 404, 408, 413, 415, 422]


@routes.post("/inventory/gear/{id}/documents")
@endpoint(
    "Upload a document of a gear item (multipart/form-data: `file`, `type`)",
    upload=DocumentForm,
    response=DocumentOut,
    status=201,
    auth="owner",
    tags=TAGS,
    errors=UPLOAD_ERRORS,
    links={"/inventory/gear/{id}/documents/{doc_id}": "/data/id"},
)
async def upload_document(request: web.Request) -> web.Response:
    user, item_id = require_user(request), uuid_param(request)
    row = await documents.upload_document(request.app, user, item_id, documents.DocumentSource(request))
    return ok(DocumentOut.model_validate(row), status=201)


@routes.get("/inventory/gear/{id}/documents")
@endpoint(
    "A gear item's documents, newest first",
    query=DocumentsQuery,
    response=DocumentList,
    auth="owner",
    tags=TAGS,
    errors=[404],
)
async def list_documents(request: web.Request, query: DocumentsQuery) -> web.Response:
    user, item_id = require_user(request), uuid_param(request)
    db = request.app[DB]
    await queries.get_item(db, item_id, user.id)
    rows, total = await queries.page_documents(db, item_id, user.id, limit=query.limit, offset=query.offset)
    return ok(DocumentList(documents=rows, total=total))


@routes.get("/inventory/gear/{id}/documents/{doc_id}/download")
@endpoint(
    "Download a document (byte ranges on local storage; a 302 to a presigned URL on S3)",
    auth="owner",
    tags=TAGS,
    content_type="*/*",
    errors=[404, 416],
)
async def download_document(request: web.Request) -> web.StreamResponse:
    return await serve_download(request, await document_download(request))


@routes.get("/inventory/gear/{id}/documents/{doc_id}/download/link")
@endpoint(
    "A short-lived link (no token needed) to a document: a presigned URL on S3, a signed link to this API "
    "on local storage",
    response=DownloadLinkOut,
    auth="owner",
    tags=TAGS,
    errors=[404],
)
async def document_download_link(request: web.Request) -> web.Response:
    return await link_response(request, await document_download(request))


async def document_download(request: web.Request) -> Download:
    user, item_id, document_id = require_user(request), uuid_param(request), uuid_param(request, "doc_id")
    return await documents.document_download(request.app, user.id, item_id, document_id)


@routes.delete("/inventory/gear/{id}/documents/{doc_id}")
@endpoint("Delete a document; its bytes leave the storage quota", response=DocumentDeletedOut, auth="owner", tags=TAGS)
async def delete_document(request: web.Request) -> web.Response:
    user = require_user(request)
    await documents.delete_document(request.app, user, uuid_param(request), uuid_param(request, "doc_id"))
    return ok({"deleted": True})
