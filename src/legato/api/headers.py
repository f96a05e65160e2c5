"""Security headers on every answer of the server (API and web app alike).

- ``X-Content-Type-Options: nosniff``: a browser never guesses a type other than the one
  declared (a JSON body is never run as a script or shown as a page).
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no page is framed by
  another site (clickjacking).
- ``Referrer-Policy: same-origin``: keys and names in page URLs do not leak to other sites.
- ``Content-Security-Policy`` (:data:`CONTENT_SECURITY_POLICY`): scripts only from the
  server's own files, never inline or evaluated, so markup that slipped into a page could
  not run. Styles may be inline: the diagram and form libraries set ``style`` attributes and
  htmx adds its indicator style. An answer that sets its own policy keeps it (the API's
  interactive documentation allows its one inline script by hash).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The policy of every page (see the module docstring)."""
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
"""The headers every answer carries (unless the answer set one of them itself)."""


class SecurityHeaders:
    """A plain ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
