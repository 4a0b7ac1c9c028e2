from openapi_spec_validator import validate

from veza.openapi import build_spec
from veza.webclient import is_client_route


async def test_document_is_valid_openapi_3_1(client):
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    spec = await resp.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_route_is_in_the_document(app):
    spec = build_spec(app)
    missing = []
    for route in app.router.routes():
        path = route.resource.canonical
        if route.method in ("HEAD", "*") or path.startswith("/api/docs") or path == "/api/v1/openapi.json":
            continue
        if is_client_route(route):  # the browser client's pages and files
            continue
        if route.method.lower() not in spec["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == []
    assert spec["paths"]["/health"]["get"]["deprecated"] is True
    assert "deprecated" not in spec["paths"]["/api/v1/health"]["get"]


def test_declared_models_feed_the_schema(app):
    spec = build_spec(app)
    deep = spec["paths"]["/api/v1/health/deep"]["get"]["responses"]
    data = deep["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data == {"$ref": "#/components/schemas/DeepHealth"}
    assert "checks" in spec["components"]["schemas"]["DeepHealth"]["properties"]
    assert deep["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_operations_that_need_a_dependency_declare_503_with_retry_after(app):
    paths = build_spec(app)["paths"]
    for path, method in (("/api/v1/marketplace/products", "get"), ("/api/v1/auth/login", "post")):
        unavailable = paths[path][method]["responses"]["503"]
        assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert "Retry-After" in unavailable["headers"]
    assert "503" not in paths["/api/v1/health"]["get"]["responses"]


async def test_swagger_ui_is_served_from_local_assets(client):
    page = await client.get("/api/docs")
    assert page.status == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = await page.text()
    assert "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "http" not in html.replace("http-equiv", "")  # no CDN
    asset = await client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status == 200
    init = await client.get("/api/docs/static/docs.js")
    assert "/api/v1/openapi.json" in await init.text()


def _schema(spec, ref_or_schema):
    ref = ref_or_schema.get("$ref", "")
    return spec["components"]["schemas"][ref.rpartition("/")[2]] if ref else ref_or_schema


def test_optional_bodies_are_not_marked_required(app):
    paths = build_spec(app)["paths"]
    for path in ("/api/v1/cloud/files/{id}/share", "/api/v1/auth/logout", "/api/v1/auth/refresh"):
        assert paths[path]["post"]["requestBody"]["required"] is False, path
    assert paths["/api/v1/auth/login"]["post"]["requestBody"]["required"] is True


def test_uploads_and_callbacks_declare_their_bodies(app):
    spec = build_spec(app)
    paths = spec["paths"]
    for path, method in (("/api/v1/cloud/files", "post"), ("/api/v1/cloud/files/{id}/content", "put")):
        body = paths[path][method]["requestBody"]
        form = _schema(spec, body["content"]["multipart/form-data"]["schema"])
        assert form["required"] == ["file"]
        assert form["properties"]["file"]["format"] == "binary"
        assert {"400", "413", "415", "422"} <= set(paths[path][method]["responses"])
    callback = paths["/api/v1/live/rtmp/on_publish"]["post"]
    form = _schema(spec, callback["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"])
    assert "name" in form["properties"]
    assert [p["name"] for p in callback["parameters"] if p["in"] == "query"] == ["secret"]
    link = paths["/api/v1/storage/local/{key}"]["get"]
    assert {p["name"] for p in link["parameters"] if p["in"] == "query"} == {"expires", "filename", "signature"}


def test_what_the_websocket_and_downloads_answer(app):
    paths = build_spec(app)["paths"]
    ws = paths["/api/v1/ws"]["get"]["responses"]
    assert {"101", "426"} <= set(ws)
    assert "200" not in ws
    download = paths["/api/v1/cloud/files/{id}/download"]["get"]["responses"]["200"]["content"]
    assert list(download) == ["*/*"]  # the stored file's own type
    version = paths["/api/v1/cloud/files/{id}/restore/{version}"]["post"]["parameters"]
    assert next(p for p in version if p["name"] == "version")["schema"]["type"] == "integer"


def test_blank_titles_and_tags_are_invalid_in_the_schema_too(app):
    schemas = build_spec(app)["components"]["schemas"]
    for model in ("StreamIn", "ProductIn"):
        properties = schemas[model]["properties"]
        assert properties["title"]["pattern"] == r"\S"
        assert properties["tags"]["items"]["pattern"] == r"\S"
    assert schemas["FileUpdate"]["properties"]["tags"]["anyOf"][0]["items"]["pattern"] == r"\S"


def test_every_operation_says_who_may_call_it(app):
    from veza.http import ACCESS, NO_TOKEN_NEEDED

    for path, operations in build_spec(app)["paths"].items():
        for method, op in operations.items():
            if path == "/api/v1/openapi.json":
                continue
            assert op["x-access"] in ACCESS, (method, path)
            assert ("security" in op) == (op["x-access"] not in NO_TOKEN_NEEDED), (method, path)
    paths = build_spec(app)["paths"]
    assert paths["/api/v1/admin/transfers"]["get"]["x-access"] == "admin"
    assert "403" in paths["/api/v1/admin/transfers"]["get"]["responses"]
    assert paths["/api/v1/cloud/files/{id}"]["get"]["x-access"] == "owner"


def test_operations_link_to_what_their_answers_make(app):
    paths = build_spec(app)["paths"]
    links = paths["/api/v1/marketplace/products"]["post"]["responses"]["201"]["links"]
    assert links["get_product"] == {"operationId": "get_product", "parameters": {"path.id": "$response.body#/data/id"}}
    repairs = paths["/api/v1/inventory/gear/{id}/repairs"]["post"]["responses"]["201"]["links"]
    assert repairs["delete_delete_gear_repair"]["parameters"] == {
        "path.id": "$request.path.id",
        "path.repairId": "$response.body#/data/id",
    }
    order = paths["/api/v1/marketplace/orders"]["post"]["responses"]["201"]["links"]
    assert order["post_confirm_sandbox_payment"]["parameters"] == {
        "path.payment_id": "$response.body#/data/payment/payment_id"
    }
    # a version number is in no answer of an upload: no link to the restore
    assert "post_restore" not in paths["/api/v1/cloud/files"]["post"]["responses"]["201"]["links"]
