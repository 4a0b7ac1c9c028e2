"""The OpenAPI 3.1 document, built from the router and each handler's ``@endpoint``.

Every route in the router appears, whether or not it declares models; what it
declares (body, query, response, auth, errors) fills in the details.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from veza import __version__
from veza.constants import API_PREFIX
from veza.http import ACCESS, NO_TOKEN_NEEDED, ROLES, EndpointSpec
from veza.webclient import is_client_route

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
STATUS_TEXT = {
    400: "Malformed input",
    401: "Missing or invalid token",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    408: "The request body stopped arriving",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Invalid input",
    423: "Account locked",
    426: "Upgrade required",
    429: "Rate limited",
    503: "Unavailable",
}

RETRY_AFTER_HEADER = {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error", "code"],
    "properties": {
        "success": {"const": False},
        "error": {"type": "string"},
        "code": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "request_id": {"type": ["string", "null"]},
    },
}


def _envelope(data_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": data_schema},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


GATEWAY_IDS = {"payment_id"}  # ids a payment gateway chooses (pay_...), not UUIDs


def _path_schema(name: str) -> dict[str, Any]:
    if name in GATEWAY_IDS:
        return {"type": "string", "minLength": 1, "maxLength": 255}
    if name == "id" or name.endswith("_id") or name.endswith("Id"):
        return {"type": "string", "format": "uuid"}
    if name == "version":  # a file's version number (veza.cloud.routes.version_param)
        return {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    return {"type": "string"}


def _operation(path: str, method: str, handler: Any, refs: dict, schemas: dict) -> dict[str, Any]:
    spec: EndpointSpec | None = getattr(handler, "endpoint", None)
    op: dict[str, Any] = {
        "operationId": f"{method.lower()}_{handler.__name__}"
        + ("_legacy" if getattr(handler, "deprecated", False) else ""),
        "summary": spec.summary if spec else (handler.__doc__ or handler.__name__).strip().splitlines()[0],
        "responses": {},
    }
    if getattr(handler, "deprecated", False):
        op["deprecated"] = True
    params = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name)}
        for name in _PATH_PARAM.findall(path)
    ]
    if spec is None:
        op["responses"]["200"] = {"description": "OK"}
        op["parameters"] = params
        return op
    if spec.tags:
        op["tags"] = list(spec.tags)
    if spec.query is not None:
        params += _query_parameters(spec.query, schemas)
    op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": spec.body_required,
            "content": _json({"$ref": refs[(spec.body, "validation")]}),
        }
    if spec.form is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": {"$ref": refs[(spec.form, "validation")]}}},
        }
    if spec.upload is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"$ref": refs[(spec.upload, "validation")]}}},
        }
    if spec.status == 101:
        op["responses"]["101"] = {"description": "Switching Protocols: the connection is now a WebSocket"}
    elif spec.content_type == "application/json":
        data = {"$ref": refs[(spec.response, "serialization")]} if spec.response else {}
        op["responses"][str(spec.status)] = {"description": "OK", "content": _json(_envelope(data))}
    else:
        op["responses"][str(spec.status)] = {
            "description": "OK",
            "content": {spec.content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    errors = set(spec.errors)
    if spec.body is not None or spec.form is not None or spec.upload is not None:
        errors |= {400, 408, 413, 415, 422}
    if spec.query is not None:
        errors.add(422)
    if params and any(p["in"] == "path" for p in params):
        errors.add(404)
    op["x-access"] = spec.auth
    op["description"] = f"Who may call it ({spec.auth}): {ACCESS[spec.auth]}."
    if spec.auth not in NO_TOKEN_NEEDED:
        op["security"] = [{"bearerAuth": []}]
        errors.add(401)
        if spec.auth in ROLES or spec.auth == "buyer":
            errors.add(403)
    if "health" not in spec.tags:  # anything else may need PostgreSQL, Redis or storage, which may be down
        errors.add(503)
    for status in sorted(errors):
        op["responses"][str(status)] = {
            "description": STATUS_TEXT.get(status, "Error"),
            "content": _json({"$ref": "#/components/schemas/Error"}),
        }
    if "503" in op["responses"]:
        op["responses"]["503"]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return op


def add_links(paths: dict[str, dict[str, Any]], routes: list[tuple[str, str, Any]]) -> None:
    """OpenAPI links from each operation's success answer to the operations on what it made.

    A handler declares `links={"/live/streams/{id}": "/data/id"}`: every operation at that path or
    under it whose path parameters are all known (the new one from the answer, the others from the
    request's own path) gets a link.
    """
    for path, method, handler in routes:
        spec: EndpointSpec | None = getattr(handler, "endpoint", None)
        if spec is None or not spec.links:
            continue
        source = _PATH_PARAM.sub(r"{\1}", path)
        known = set(_PATH_PARAM.findall(source))
        operation = paths[source][method.lower()]
        links = operation["responses"][str(spec.status)].setdefault("links", {})
        for made, pointer in spec.links:
            target = API_PREFIX + made
            new = _PATH_PARAM.findall(target)[-1]
            for other, operations in paths.items():
                if other != target and not other.startswith(target + "/"):
                    continue
                names = _PATH_PARAM.findall(other)
                if not set(names) <= known | {new}:
                    continue
                parameters = {name: f"$request.path.{name}" for name in names if name != new}
                parameters[new] = f"$response.body#{pointer}"
                for target_op in operations.values():
                    links[target_op["operationId"]] = {
                        "operationId": target_op["operationId"],
                        "parameters": {f"path.{name}": value for name, value in parameters.items()},
                    }


def build_spec(app: web.Application) -> dict[str, Any]:
    routes = [
        (route.resource.canonical, route.method, route.handler)
        for route in app.router.routes()
        if route.resource is not None
        and route.method not in ("HEAD", "*")
        and not route.resource.canonical.startswith("/api/docs")
        and not is_client_route(route)
    ]
    pairs = set()
    for _, _, handler in routes:
        spec: EndpointSpec | None = getattr(handler, "endpoint", None)
        if spec is None:
            continue
        for model in (spec.body, spec.form, spec.upload):
            if model is not None:
                pairs.add((model, "validation"))
        if spec.response is not None:
            pairs.add((spec.response, "serialization"))
    ordered = sorted(pairs, key=lambda p: (p[0].__name__, p[1]))
    refs, top = models_json_schema(ordered, ref_template=REF)
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, **top.get("$defs", {})}
    refs = {key: value["$ref"] for key, value in refs.items()}

    paths: dict[str, dict[str, Any]] = {}
    for path, method, handler in routes:
        openapi_path = _PATH_PARAM.sub(r"{\1}", path)
        paths.setdefault(openapi_path, {})[method.lower()] = _operation(path, method, handler, refs, schemas)

    add_links(paths, routes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veza API",
            "version": __version__,
            "description": "REST and WebSocket API of the Veza music-creator platform. "
            "Every JSON answer is an envelope: "
            '`{"success": true, "data": ...}` or `{"success": false, "error", "code", "details", "request_id"}`. '
            "Text that cannot be stored (NUL, lone surrogates) is a 422 naming the field. Requests the HTTP parser "
            "refuses before routing (a request line over 16 KiB, a header line over 8 KiB, bytes HTTP does not "
            "allow) get a 400 with the envelope (`line_too_long` or `malformed_request`) and no request id, and the "
            "connection is closed.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
