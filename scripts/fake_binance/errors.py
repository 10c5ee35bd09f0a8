"""A Binance error answer, raised anywhere in the fake and written by the server."""

from __future__ import annotations


class ApiError(Exception):
    """A Binance error response: HTTP status plus {"code", "msg"} body."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}
