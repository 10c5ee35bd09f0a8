"""Who may do what over HTTP. Pure rules, no web framework:

- on a loopback address, reading needs no token;
- halt and resume always need `Authorization: Bearer <token>`, and are refused outright when no token is set
  (QT_HTTP__TOKEN) or when the server is read-only (`quantum-trader dashboard`);
- bound to any other address, the server does not start without a token, and then every request needs it.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

TOKEN_VARIABLE = "QT_HTTP__TOKEN"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 401: no or a wrong token; 403: not allowed here whatever the token
    message: str


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def refuse_to_start(host: str, token: str | None) -> str | None:
    """Why a server on `host` must not start (None: it may)."""
    if not is_loopback(host) and not token:
        return (
            f"http.host is {host!r}, not a loopback address: the API would be open to the network; set "
            f"{TOKEN_VARIABLE} (every request then needs it) or bind to 127.0.0.1"
        )
    return None


@dataclass(frozen=True, slots=True)
class AccessRules:
    host: str
    token: str | None
    writable: bool  # False: a read-only server over a database (no halt, no resume)

    def read(self, authorization: str | None) -> Refusal | None:
        if is_loopback(self.host):
            return None
        return self._bearer(authorization)

    def write(self, authorization: str | None) -> Refusal | None:
        if not self.writable:
            return Refusal(
                403,
                "this server is read-only (quantum-trader dashboard): halt or resume through the running service's "
                "API or with `quantum-trader gate halt|resume`",
            )
        if not self.token:
            return Refusal(403, f"halt and resume are disabled: no token is configured; set {TOKEN_VARIABLE}")
        return self._bearer(authorization)

    def _bearer(self, authorization: str | None) -> Refusal | None:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return Refusal(401, "needs Authorization: Bearer <token>")
        if not self.token or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return Refusal(401, "wrong token")
        return None
