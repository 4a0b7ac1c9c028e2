"""API errors. Raise one anywhere; the edge (veza.edge) turns it into the envelope."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    code = "internal_error"
    message = "Internal server error"
    close_connection = False  # answer, then close the connection instead of keeping it alive

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "Malformed request"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "Authentication required"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, message = 409, "conflict", "Conflict"


class Gone(ApiError):
    status, code, message = 410, "gone", "No longer available"


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "unsupported_media_type", "Unsupported media type"


class Invalid(ApiError):
    status, code, message = 422, "validation_error", "Invalid input"


class UpgradeRequired(ApiError):
    status, code, message = 426, "upgrade_required", "This route speaks WebSocket only: send a WebSocket handshake"

    def __init__(self, protocol: str) -> None:
        super().__init__(headers={"Upgrade": protocol})


class Locked(ApiError):
    status, code, message = 423, "account_locked", "Account locked"


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})


class Unavailable(ApiError):
    """A dependency (PostgreSQL, Redis, storage) is down or too slow: the client may retry later."""

    status, code, message = 503, "unavailable", "Service temporarily unavailable"
    retry_after = 5  # seconds

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        super().__init__(message, **kwargs)


class RequestTimeout(ApiError):
    """The client stopped sending its body; the connection is closed after the answer."""

    status, code, message = 408, "request_timeout", "The request body stopped arriving"
    close_connection = True
