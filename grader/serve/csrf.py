"""Cross-site request forgery: every form that changes something carries a signed token.

Signed double submit (OWASP): a random value lives in a cookie of its own,
and each form carries that value signed with the server's secret. A page on
another site can make a browser send the cookie, but cannot read it, and so
cannot write the matching field; a value it makes up fails the signature.
"""

from __future__ import annotations

import hmac
import secrets

__all__ = ["COOKIE", "FIELD", "new_nonce", "token_for", "valid"]

COOKIE = "grade_csrf"
FIELD = "csrf_token"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret: str, nonce: str) -> str:
    """Return the form field's value for the cookie's ``nonce``."""
    return hmac.new(secret.encode(), b"csrf:" + nonce.encode(), "sha256").hexdigest()


def valid(secret: str, nonce: str | None, submitted: str | None) -> bool:
    """Say whether a form's token belongs with the cookie sent along with it."""
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(token_for(secret, nonce), submitted)
