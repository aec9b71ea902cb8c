"""The headers every response of ``grade serve`` carries, added by a plain ASGI middleware.

Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) runs the rest of
the application in a task of its own and passes each body through memory
streams; on the hand-in path, the one a deadline spike takes, that was CPU the
web process spends on every request. This one only rewrites the response's
first message as it goes out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PagePolicy"]


class PagePolicy:
    """Add the security headers (and a form's CSRF cookie) to every HTTP response.

    ``before`` runs first for each request (the server reads its secret and seed
    there, before any route opens a writing transaction); what it or the rest of
    the application raises before a response began is answered by ``refused``
    when that gives a response for it, and raised on otherwise.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: str,
        csrf_cookie: str,
        before: Callable[[], None],
        refused: Callable[[Request, Exception], Awaitable[Response | None]],
    ) -> None:
        self.app = app
        self.policy = policy
        self.csrf_cookie = csrf_cookie
        self.before = before
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self._add(scope, MutableHeaders(scope=message))
            await send(message)

        try:
            self.before()
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            response = None if started else await self.refused(Request(scope), exc)
            if response is None:
                raise
            await response(scope, receive, send_with_headers)

    def _add(self, scope: Scope, headers: MutableHeaders) -> None:
        headers.setdefault("Content-Security-Policy", self.policy)
        headers["X-Content-Type-Options"] = "nosniff"
        if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:
            headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers.setdefault("Cache-Control", "no-store")
        # Set by the route that put a new CSRF token in its form (request.state).
        nonce = (scope.get("state") or {}).get("csrf_nonce")
        if nonce:
            cookie = Response()
            cookie.set_cookie(
                self.csrf_cookie,
                nonce,
                httponly=True,
                samesite="strict",
                secure=scope.get("scheme") == "https",
            )
            headers.append("set-cookie", cookie.headers["set-cookie"])
