"""Domain errors; the transport maps each onto an ``appError`` / HTTP status."""

from __future__ import annotations


class AppError(Exception):
    status_code = 500
    default_message = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class Invalid(AppError):
    status_code = 400
    default_message = "Invalid data provided"


class Unauthorized(AppError):
    status_code = 401
    default_message = "Unauthorized"


class Forbidden(AppError):
    status_code = 403
    default_message = "You are not allowed to do this"


class NotFound(AppError):
    status_code = 404
    default_message = "Not found"


class Conflict(AppError):
    status_code = 409
    default_message = "Conflict"


class TooLarge(AppError):
    status_code = 413
    default_message = "Payload too large"


class UnsupportedMedia(AppError):
    status_code = 415
    default_message = "Unsupported media type"


class RateLimited(AppError):
    status_code = 429
    default_message = "Too many requests"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until the request would be allowed


class TooManyConnections(AppError):
    status_code = 429
    default_message = "Too many connections"


class Unavailable(AppError):
    status_code = 503
    default_message = "Service temporarily unavailable, please retry"
    # Background loops (process/periodic.py) do not log it on every round: whatever went
    # away logged its outage once (logs/outages.py).
    logged_by_outage = True

    def __init__(self, message: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds after which a retry may succeed
