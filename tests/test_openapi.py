from openapi_spec_validator import validate

from veza.openapi import build_spec


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
