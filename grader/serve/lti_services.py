"""LTI Advantage services: the access token, Assignment and Grade Services, and the roster (NRPS).

The tool asks the platform's token endpoint for an access token with a JWT
assertion signed by its own key (OAuth 2 client credentials, RFC 7523, as
LTI Advantage's security framework says), then calls the service with it.
Every failure of the platform (no answer, a 4xx or 5xx) becomes a
``PlatformError`` of one line, which the passback job retries later.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session

from grader.serve import clock
from grader.serve.lti import sign, tool_key
from grader.serve.models import LtiPlatform

__all__ = ["PlatformError", "Access", "Score", "Services", "LINEITEM", "SCORE", "MEMBERSHIPS"]

LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERSHIPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINE_ITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINE_ITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
# The platform's services can be slow; a passback that waits longer is retried later.
TIMEOUT = 20.0


class PlatformError(Exception):
    """The platform did not do what a service call asked: one line, with its answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Score:
    """A student's final score of an exercise, as AGS takes it."""

    user_id: str
    given: float
    maximum: float
    timestamp: str  # ISO 8601 with its offset: a platform keeps the latest one only


def _scores_url(line_item: str) -> str:
    # AGS: the scores service is the line item's URL with /scores added to its path.
    parts = urlsplit(line_item)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _reason(what: str, exc: Exception | httpx.Response) -> PlatformError:
    if isinstance(exc, httpx.Response):
        body = " ".join(exc.text.split())[:160]
        return PlatformError(
            f"{what}: the platform answered {exc.status_code} {body}".rstrip(), exc.status_code
        )
    return PlatformError(f"{what}: the platform could not be reached ({type(exc).__name__})")


@dataclass(frozen=True)
class Access:
    """What a service call needs of a platform, read from the database before the call.

    No database transaction stays open across a call to the platform: on
    SQLite a transaction holds the one write lock, and a slow platform would
    hold every hand-in of the class behind it.
    """

    platform_id: int
    client_id: str
    token_url: str
    key: RSAKey

    @classmethod
    def of(cls, session: Session, platform: LtiPlatform) -> Access:
        return cls(platform.id, platform.client_id, platform.token_url, tool_key(session))


class Services:
    """One process's client of the platforms' services, with its access tokens kept until due."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=TIMEOUT)
        self._tokens: dict[tuple[int, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _call(self, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            reply = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise _reason(what, exc) from None
        if reply.status_code >= 400:
            raise _reason(what, reply)
        return reply

    def token(self, access: Access, scopes: list[str]) -> str:
        """Return an access token for ``scopes`` from the platform (kept until nearly due)."""
        scope = " ".join(sorted(scopes))
        key = (access.platform_id, scope)
        with self._lock:
            held = self._tokens.get(key)
        if held is not None and held[0] > time.monotonic():
            return held[1]
        now = int(clock.now().replace(tzinfo=timezone.utc).timestamp())
        assertion = sign(
            access.key,
            {
                "iss": access.client_id,
                "sub": access.client_id,
                "aud": access.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": secrets.token_urlsafe(16),
            },
        )
        reply = self._call(
            "the access token",
            "POST",
            access.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": scope,
            },
        )
        try:
            body = reply.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise PlatformError("the access token: the platform's answer has none") from None
        with self._lock:
            self._tokens[key] = (time.monotonic() + max(0.0, lifetime - 60), token)
        return token

    def _authorized(
        self, access: Access, scopes: list[str], what: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            **kwargs.pop("headers", {}),
            "Authorization": f"Bearer {self.token(access, scopes)}",
        }
        try:
            return self._call(what, method, url, headers=headers, **kwargs)
        except PlatformError as exc:
            if exc.status == 401:  # revoked, or the clocks disagree: a new token next time
                with self._lock:
                    for held in [k for k in self._tokens if k[0] == access.platform_id]:
                        del self._tokens[held]
            raise

    def line_item(
        self, access: Access, lineitems_url: str, exercise: str, label: str, maximum: float
    ) -> str:
        """Return the URL of the exercise's line item on the platform: found, or made.

        Looked up by ``resource_id`` first (a line item deep linking made, or one
        made before this database), and only then made.
        """
        scopes = [LINEITEM, SCORE]
        listed = self._authorized(
            access,
            scopes,
            "the line items",
            "GET",
            lineitems_url,
            params={"resource_id": exercise},
            headers={"Accept": LINE_ITEMS_TYPE},
        )
        try:
            items = listed.json()
        except ValueError:
            items = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("resourceId") == exercise and item.get("id"):
                return str(item["id"])
        made = self._authorized(
            access,
            scopes,
            "a new line item",
            "POST",
            lineitems_url,
            json={"scoreMaximum": maximum, "label": label, "resourceId": exercise, "tag": "grade"},
            headers={"Content-Type": LINE_ITEM_TYPE, "Accept": LINE_ITEM_TYPE},
        )
        try:
            return str(made.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise PlatformError("a new line item: the platform's answer has no id") from None

    def post_score(self, access: Access, line_item: str, score: Score) -> None:
        """Send the score to the line item's scores service."""
        self._authorized(
            access,
            [LINEITEM, SCORE],
            "the score",
            "POST",
            _scores_url(line_item),
            json={
                "userId": score.user_id,
                "scoreGiven": score.given,
                "scoreMaximum": score.maximum,
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "timestamp": score.timestamp,
            },
            headers={"Content-Type": SCORE_TYPE},
        )

    def members(self, access: Access, memberships_url: str) -> list[dict[str, Any]]:
        """Return the course's members from NRPS, following its pages (``Link: rel=next``)."""
        found: list[dict[str, Any]] = []
        url: str | None = memberships_url
        seen: set[str] = set()
        while url and url not in seen and len(seen) < 1000:  # a loop of next links ends
            seen.add(url)
            reply = self._authorized(
                access, [MEMBERSHIPS], "the roster", "GET", url, headers={"Accept": MEMBERS_TYPE}
            )
            try:
                body = reply.json()
            except ValueError:
                raise PlatformError("the roster: the platform's answer is not JSON") from None
            members = body.get("members") if isinstance(body, dict) else None
            found.extend(m for m in members or [] if isinstance(m, dict))
            url = reply.links.get("next", {}).get("url")
        return found
