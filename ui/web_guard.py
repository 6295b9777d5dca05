"""The web app answers only requests addressed to it by a name it was given.

A page on another site can make the analyst's browser send requests to 127.0.0.1 (and, by DNS
rebinding, make them look same-origin): such requests carry that site's name in `Host` or
`Origin`. Every request whose Host, or Origin when present, is not an allowed name is refused
with 403 before the app sees it. Allowed: the loopback names, the address the app was asked to
listen on when that is a specific name, and the public names configured (JOURNEY_PUBLIC_NAME).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_names(host: str, public: tuple[str, ...] = ()) -> set[str]:
    names = set(LOOPBACK) | {name.strip("[]").lower() for name in public}
    if host not in ("", "0.0.0.0", "::"):
        names.add(host.strip("[]").lower())
    return names


def _hostname(value: str) -> str | None:
    """The name in a Host header (`name:port`, `[::1]:port`) or an Origin (`scheme://name`)."""
    if "://" not in value:
        value = "//" + value
    try:
        name = urlsplit(value).hostname
    except ValueError:
        return None
    return name.lower() if name else None


class HostGuard:
    """ASGI middleware: 403 for a foreign Host or Origin (HTTP and websockets alike)."""

    def __init__(self, app: Callable, allowed: set[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> Any:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers", [])}
            host = _hostname(headers.get("host", ""))
            origin = headers.get("origin")
            foreign = host not in self.allowed or (
                origin is not None and origin != "null" and _hostname(origin) not in self.allowed)
            if foreign:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return None
                body = b"This Journey Agent answers only on its own address."
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return None
        return await self.app(scope, receive, send)
