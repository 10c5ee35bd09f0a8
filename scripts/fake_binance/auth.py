"""The fake server's authentication, Binance's: the X-MBX-APIKEY header on every USER_STREAM and SIGNED endpoint;
on SIGNED ones, an HMAC-SHA256 hex signature of the total parameters (query string, then body) keyed with the
secret, and `timestamp` within `recvWindow` (default 5000 ms, at most 60000) of the server's clock and no more than
1000 ms ahead of it."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote

from scripts.fake_binance.errors import ApiError
from scripts.fake_binance.routes import Security


def authenticate(
    key: str | None,
    security: Security,
    *,
    query: str,
    body: str,
    params: dict[str, str],
    api_key: str,
    secret: str,
    now_ms: int,
) -> None:
    """Raises the `ApiError` Binance answers a request with the API key `key` (None: no header) with."""
    if security is Security.NONE:
        return
    if not key:
        raise ApiError(401, -2014, "API-key format invalid.")
    if key != api_key:
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    if security is not Security.SIGNED:
        return
    try:
        timestamp = int(params["timestamp"])
        recv_window = int(params.get("recvWindow", "5000"))
    except (KeyError, ValueError):
        raise ApiError(
            400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        ) from None
    if recv_window > 60_000:
        raise ApiError(400, -1131, "recvWindow must be less than 60000")
    if timestamp >= now_ms + 1000 or now_ms - timestamp > recv_window:
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    signature = params.get("signature", "")
    total = _without_signature(query) + _without_signature(body)
    # Binance signs what was sent; python-binance signs before requests form-encodes the body,
    # so the decoded text is accepted too (they differ only for characters like ':' or '/').
    expected = [_hmac(secret, text) for text in {total, unquote(total)}]
    if not any(hmac.compare_digest(signature, e) for e in expected):
        raise ApiError(400, -1022, "Signature for this request is not valid.")


def _without_signature(text: str) -> str:
    return "&".join(p for p in text.split("&") if p and not p.startswith("signature="))


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
