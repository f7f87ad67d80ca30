"""Gemini-style API errors: `{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}`."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

# HTTP code -> the google.rpc status name Gemini puts next to it
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",  # Gemini: "Request payload size exceeds the limit"
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """An error the client should see, with its HTTP code and Gemini status name."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        from agent.server.safejson import SafeJSONResponse  # (it imports this module)

        return SafeJSONResponse(self.to_json(), status_code=self.code, headers=headers)


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)
