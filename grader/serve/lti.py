"""LTI 1.3: the platforms, the tool's key, the OIDC login and the launch that signs one in.

A learning platform (Canvas, Moodle, Blackboard, Brightspace) opens an
exercise in three steps (1EdTech LTI Core 1.3): it calls ``/lti/login``
(third-party initiated login), the tool sends the browser back to the
platform's authorization endpoint with a fresh ``state`` and ``nonce``, and
the platform posts a signed id token to ``/lti/launch``. Every claim the
specification asks the tool to check is checked here, each refusal with one
line; JOSE (keys, signatures, claims) is joserfc's, not ours. Why joserfc and
not PyLTI1p3: docs/lti.md.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from grader.serve import clock
from grader.serve.database import ensure_setting, setting
from grader.serve.models import (
    Instructor,
    LtiContext,
    LtiLogin,
    LtiPlatform,
    LtiUser,
    Student,
)

__all__ = [
    "LtiError",
    "Launch",
    "PlatformKeys",
    "add_platform",
    "remove_platform",
    "platforms",
    "tool_key",
    "tool_jwks",
    "begin_login",
    "validate_launch",
    "sign_in",
    "deep_link_response",
    "student_for_member",
]

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINK = "LtiDeepLinkingRequest"
INSTRUCTOR_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    # LTI 1.3 still allows the short names of LTI 1.1 (deprecated, sent by some platforms).
    "Instructor",
    "Administrator",
    "ContentDeveloper",
}
LEARNER_ROLES = {"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner", "Learner"}
# A login must come back as a launch within this: a state found later is refused.
LOGIN_LIFETIME = timedelta(minutes=10)
# Clocks of the platform and the tool disagree a little: exp and iat get this much slack.
LEEWAY = 60
KEY_SETTING = "lti_key"
SPENT = "this launch was already used (its nonce is spent): open the link in the course again"


class LtiError(Exception):
    """A refused login or launch: the HTTP status and one line saying why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- platforms and the tool's key ---------------------------------------------------


def _checked_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise LtiError(f"{name} must be an https:// address (http:// only on this machine): {url}")
    if not parts.netloc:
        raise LtiError(f"{name} is not an address: {url!r}")
    return url


def add_platform(
    session: Session,
    issuer: str,
    client_id: str,
    deployment_ids: list[str],
    login_url: str,
    token_url: str,
    jwks_url: str,
) -> LtiPlatform:
    """Record a platform (or add deployments to one recorded); make the tool's key if none yet."""
    if not issuer or not client_id:
        raise LtiError("a platform needs its issuer and the client id it gave the tool")
    if not deployment_ids or not all(d.strip() for d in deployment_ids):
        raise LtiError("name at least one deployment id (--deployment)")
    urls = {
        "the login address": login_url,
        "the token address": token_url,
        "the JWKS address": jwks_url,
    }
    for name, url in urls.items():
        _checked_url(name, url)
    tool_key(session)
    found = session.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )
    if found is None:
        found = LtiPlatform(
            issuer=issuer,
            client_id=client_id,
            deployment_ids=sorted(set(deployment_ids)),
            login_url=login_url,
            token_url=token_url,
            jwks_url=jwks_url,
            created_at=clock.now(),
        )
        session.add(found)
    else:
        found.deployment_ids = sorted(set(found.deployment_ids) | set(deployment_ids))
        found.login_url, found.token_url, found.jwks_url = login_url, token_url, jwks_url
    session.flush()
    return found


def remove_platform(session: Session, issuer: str, client_id: str | None) -> int:
    """Forget a platform (its logins, courses and users with it); return how many went."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(session.scalars(query))
    for platform in found:
        session.delete(platform)
    return len(found)


def platforms(session: Session) -> list[LtiPlatform]:
    """Return the registered platforms, by issuer."""
    return list(session.scalars(select(LtiPlatform).order_by(LtiPlatform.issuer, LtiPlatform.id)))


def tool_key(session: Session) -> RSAKey:
    """Return the tool's private key, making it the first time (kept with the server's secret)."""

    def make() -> str:
        kid = secrets.token_urlsafe(12)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps(key.as_dict(private=True))

    return RSAKey.import_key(json.loads(ensure_setting(session, KEY_SETTING, make)))


def tool_jwks(session: Session) -> dict[str, Any]:
    """Return the JWKS the platforms verify the tool's messages with (public part only)."""
    stored = setting(session, KEY_SETTING)
    if stored is None:
        return {"keys": []}
    public = RSAKey.import_key(json.loads(stored)).as_dict(private=False)
    return {"keys": [{**public, "use": "sig", "alg": "RS256"}]}


def sign(key: RSAKey, claims: dict[str, Any]) -> str:
    """Return ``claims`` as a JWT signed with the tool's key (its kid in the header)."""
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


class PlatformKeys:
    """The platforms' public keys, fetched over HTTP from their JWKS and kept a while.

    Fetched again when a token names a key id not in the copy (the platform
    rotated its keys), at most once a minute per platform, so a flood of forged
    key ids does not turn into a flood of requests to the platform.
    """

    KEEP = 300.0
    REFETCH = 60.0

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=10)
        self._keys: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def _fetch(self, url: str) -> KeySet:
        try:
            reply = self._client.get(url)
            reply.raise_for_status()
            return KeySet.import_key_set(reply.json())
        except (httpx.HTTPError, ValueError, JoseError, TypeError) as exc:
            raise LtiError(
                f"the platform's keys could not be read from {url} ({type(exc).__name__}): "
                "try again in a minute",
                502,
            ) from None

    def for_token(self, url: str, kid: str | None) -> KeySet:
        """Return the key set of the JWKS at ``url``, fresh enough to hold key ``kid``."""
        now = time.monotonic()
        with self._lock:
            held = self._keys.get(url)
        if held is not None:
            fetched, keys = held
            known = kid is None or any(k.kid == kid for k in keys.keys)
            if now - fetched < self.KEEP and (known or now - fetched < self.REFETCH):
                return keys
        keys = self._fetch(url)
        with self._lock:
            self._keys[url] = (now, keys)
        return keys


# -- the OIDC login ---------------------------------------------------------------------


def own_target(tool_url: str, target: str) -> str:
    """Return the path of ``target`` if it is an address of this tool, else refuse."""
    ours, theirs = urlsplit(tool_url), urlsplit(target)
    if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
        # An open redirect otherwise: a launch could send the student anywhere.
        raise LtiError(
            f"the link's target {target!r} is not an address of this server ({tool_url})"
        )
    return theirs.path + (f"?{theirs.query}" if theirs.query else "")


def begin_login(session: Session, params: Mapping[str, str], tool_url: str) -> str:
    """Record a login a platform started; return the platform's address to send the browser to."""
    issuer, hint, target = (params.get(k, "") for k in ("iss", "login_hint", "target_link_uri"))
    if not issuer or not hint or not target:
        raise LtiError("a login needs iss, login_hint and target_link_uri: open it from the course")
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if params.get("client_id"):
        query = query.where(LtiPlatform.client_id == params["client_id"])
    found = list(session.scalars(query))
    if not found:
        raise LtiError(
            f"the platform {issuer} is not registered here: "
            "the instructor adds it with grade serve lti add-platform",
            403,
        )
    if len(found) > 1:
        raise LtiError(f"the platform {issuer} has several client ids here: it must send client_id")
    platform = found[0]
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in platform.deployment_ids:
        raise LtiError(f"the deployment {deployment!r} of {issuer} is not registered here", 403)
    own_target(tool_url, target)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # Logins of more than a day ago can no longer launch or continue: forgotten here.
    session.execute(delete(LtiLogin).where(LtiLogin.created_at < clock.now() - timedelta(days=1)))
    session.add(LtiLogin(state=state, nonce=nonce, platform_id=platform.id, created_at=clock.now()))
    answer = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": f"{tool_url.rstrip('/')}/lti/launch",
        "login_hint": hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        answer["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.login_url else "?"
    return platform.login_url + separator + urlencode(answer)


# -- the launch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """A launch whose id token passed every check, and the login it used up."""

    platform_id: int
    state: str
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return str(self.claims[CLAIM + "message_type"])

    @property
    def roles(self) -> list[str]:
        return list(self.claims[CLAIM + "roles"])

    @property
    def is_instructor(self) -> bool:
        return any(role in INSTRUCTOR_ROLES for role in self.roles)


def _unverified_kid(token: str) -> str | None:
    import base64

    try:
        head = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError):
        raise LtiError("the launch's id token is not a JWT", 400) from None
    kid = header.get("kid") if isinstance(header, dict) else None
    return str(kid) if kid is not None else None


def _checked_claims(claims: dict[str, Any], platform: LtiPlatform, nonce: str) -> None:
    now = _epoch()
    if claims.get("iss") != platform.issuer:
        raise LtiError(f"the launch comes from {claims.get('iss')!r}, not {platform.issuer}", 403)
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if platform.client_id not in audiences:
        raise LtiError("the launch is meant for another tool (its aud is not this tool)", 403)
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LtiError("the launch's authorized party (azp) is not this tool", 403)
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, (int, float)) or expires + LEEWAY < now:
        raise LtiError("the launch has expired: open the link in the course again", 403)
    if not isinstance(issued, (int, float)) or issued - LEEWAY > now:
        raise LtiError("the launch was issued in the future: the platform's clock is wrong", 403)
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise LtiError("the launch's nonce is not the one this login sent", 403)
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LtiError(f"the deployment {deployment!r} is not registered here", 403)
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LtiError(
            f"LTI version {claims.get(CLAIM + 'version')!r}: this tool speaks 1.3.0", 403
        )
    if claims.get(CLAIM + "message_type") not in (RESOURCE_LINK, DEEP_LINK):
        raise LtiError(
            f"the message type {claims.get(CLAIM + 'message_type')!r} is not a launch", 403
        )
    if not isinstance(claims.get(CLAIM + "roles"), list):
        raise LtiError("the launch has no roles claim: the tool cannot tell who you are", 403)
    if not claims.get("sub"):
        raise LtiError("the launch names no user (sub): anonymous launches are not taken", 403)


def _epoch() -> int:
    import calendar

    return calendar.timegm(clock.now().utctimetuple())


def validate_launch(session: Session, id_token: str, state: str, keys: PlatformKeys) -> Launch:
    """Check the launch's id token against its login; use the login up; return the claims.

    Nothing is signed in here: the caller does that with the returned launch,
    in the same transaction.
    """
    if not id_token or not state:
        raise LtiError("a launch needs id_token and state: open the link in the course again")
    login = session.get(LtiLogin, state)
    if login is None or login.created_at + LOGIN_LIFETIME < clock.now():
        raise LtiError(
            "this launch did not start here or took too long: open the link in the course again",
            403,
        )
    if login.launched_at is not None:
        raise LtiError(SPENT, 403)
    platform = session.get(LtiPlatform, login.platform_id)
    assert platform is not None  # the login row goes with its platform (on delete cascade)
    kid = _unverified_kid(id_token)
    keyset = keys.for_token(platform.jwks_url, kid)
    try:
        token = jwt.decode(id_token, keyset, algorithms=["RS256", "RS384", "RS512", "ES256"])
    except (JoseError, ValueError):
        raise LtiError(
            "the launch's signature is not made by the platform's key: refused", 403
        ) from None
    claims = dict(token.claims)
    _checked_claims(claims, platform, login.nonce)
    # Used once, across every process: the first launch to flip launched_at wins.
    spent = session.execute(
        update(LtiLogin)
        .where(LtiLogin.state == state, LtiLogin.launched_at.is_(None))
        .values(launched_at=clock.now())
    )
    if not getattr(spent, "rowcount", 0):
        raise LtiError(SPENT, 403)
    return Launch(platform.id, state, claims)


# -- who the launch signs in ---------------------------------------------------------------


def _context(session: Session, platform_id: int, claims: dict[str, Any]) -> LtiContext | None:
    context = claims.get(CLAIM + "context") or {}
    key = str(context.get("id") or "") if isinstance(context, dict) else ""
    if not key:
        return None
    found = session.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == platform_id, LtiContext.context_key == key
        )
    )
    if found is None:
        found = LtiContext(platform_id=platform_id, context_key=key, scopes=[])
        session.add(found)
    found.deployment_id = str(claims[CLAIM + "deployment_id"])
    found.title = str(context.get("title") or context.get("label") or "")[:255]
    found.updated_at = clock.now()
    ags = claims.get(AGS_ENDPOINT)
    if isinstance(ags, dict):
        found.lineitems_url = ags.get("lineitems") or found.lineitems_url
        found.scopes = [str(s) for s in ags.get("scope") or []]
    nrps = claims.get(NRPS)
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        found.memberships_url = str(nrps["context_memberships_url"])
    session.flush()
    return found


def _person(claims: Mapping[str, Any]) -> dict[str, str]:
    """Return what a launch or a roster member says of a person, as roster cells."""
    lis = claims.get(CLAIM + "lis") or {}
    cells = {
        "lti_user_id": str(claims.get("sub") or claims.get("user_id") or ""),
        "student": str(claims.get("name") or ""),
        "email": str(claims.get("email") or ""),
        "sis_user_id": str(
            (lis.get("person_sourcedid") if isinstance(lis, dict) else None)
            or claims.get("lis_person_sourcedid")
            or ""
        ),
    }
    return {k: v for k, v in cells.items() if v}


def _folder_for(session: Session, person: dict[str, str]) -> str:
    import re

    stem = person.get("email", "").split("@")[0] or person.get("student", "")
    stem = re.sub(r"[^a-z0-9._-]+", "", stem.lower().replace(" ", "")) or "student"
    name, number = stem[:60], 1
    while session.scalar(select(Student.id).where(Student.name == name)) is not None:
        number += 1
        name = f"{stem[:60]}-{number}"
    return name


def _user(session: Session, platform_id: int, subject: str) -> LtiUser:
    """Return the platform's user ``subject`` as recorded here (a new record the first time)."""
    found = session.scalar(
        select(LtiUser).where(LtiUser.platform_id == platform_id, LtiUser.subject == subject)
    )
    if found is None:
        found = LtiUser(platform_id=platform_id, subject=subject, created_at=clock.now())
        session.add(found)
    return found


def student_for_member(
    session: Session, platform_id: int, person: dict[str, str], context_id: int | None = None
) -> Student:
    """Return the student a platform's user is: linked before, found in the roster, or new.

    The roster is searched for the user's platform id, email or SIS id in any
    of its cells (Canvas's and Moodle's exports carry them); a user found
    nowhere is added to the roster under a folder made from their email.
    """
    subject = person["lti_user_id"]
    link = _user(session, platform_id, subject)
    if link.student_id is not None:
        student = session.get(Student, link.student_id)
        if student is not None:
            return student
    wanted = {person[k].lower() for k in ("lti_user_id", "email", "sis_user_id") if person.get(k)}
    linked = set(session.scalars(select(LtiUser.student_id).where(LtiUser.student_id.is_not(None))))
    student = None
    for candidate in session.scalars(select(Student).order_by(Student.id)):
        if candidate.id in linked:
            continue
        if wanted & {str(v).strip().lower() for v in candidate.roster.values() if v}:
            student = candidate
            break
    if student is None:
        folder = _folder_for(session, person)
        student = Student(name=folder, roster={"folder": folder, **person}, created_at=clock.now())
        session.add(student)
        session.flush()
    link.student_id = student.id
    if context_id is not None and link.context_id is None:
        link.context_id = context_id  # where their scores go, before their first launch
    session.flush()
    return student


def _instructor_for(session: Session, platform_id: int, claims: dict[str, Any]) -> Instructor:
    subject = str(claims["sub"])
    link = _user(session, platform_id, subject)
    if link.instructor_id is not None:
        found = session.get(Instructor, link.instructor_id)
        if found is not None:
            return found
    shown = str(claims.get("name") or claims.get("email") or subject)[:200]
    name, number = shown, 1
    while session.scalar(select(Instructor.id).where(Instructor.name == name)) is not None:
        number += 1
        name = f"{shown} ({number})"
    # "!" is no argon2 hash: nobody signs in as this instructor with a password.
    instructor = Instructor(name=name, password_hash="!lti", created_at=clock.now())
    session.add(instructor)
    session.flush()
    link.instructor_id = instructor.id
    session.flush()
    return instructor


def sign_in(session: Session, launch: Launch, tool_url: str) -> tuple[str, int, str]:
    """Record who the launch is and where it goes; return (role, id, path to open)."""
    claims = launch.claims
    context = _context(session, launch.platform_id, claims)
    if launch.is_instructor:
        role, ident = "instructor", _instructor_for(session, launch.platform_id, claims).id
    elif any(r in LEARNER_ROLES for r in launch.roles):
        person = _person(claims)
        role, ident = "student", student_for_member(session, launch.platform_id, person).id
    else:
        raise LtiError(
            "your role in this course is neither learner nor instructor: the tool has no page "
            "for it",
            403,
        )
    if context is not None:
        _user(session, launch.platform_id, str(claims["sub"])).context_id = context.id
    if launch.message_type == DEEP_LINK:
        if role != "instructor":
            raise LtiError("only an instructor places exercises in the course", 403)
        settings = claims.get(DEEP_LINKING)
        if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
            raise LtiError("the deep linking request has no deep_link_return_url")
        target = f"/lti/deep-link/{launch.state}"
        deep_link: dict[str, object] | None = {
            "return_url": str(settings["deep_link_return_url"]),
            "data": settings.get("data"),
            "deployment_id": str(claims[CLAIM + "deployment_id"]),
            "multiple": bool(settings.get("accept_multiple", True)),
        }
    else:
        target = own_target(tool_url, str(claims.get(CLAIM + "target_link_uri") or tool_url))
        deep_link = None
    session.execute(
        update(LtiLogin)
        .where(LtiLogin.state == launch.state)
        .values(role=role, actor_id=ident, target=target, deep_link=deep_link)
    )
    return role, ident, target


def deep_link_response(
    session: Session, state: str, items: list[dict[str, Any]]
) -> tuple[str, str]:
    """Sign the answer to a deep linking request; return (the platform's return URL, the JWT).

    The login's state is the capability: it was sent to the platform, came
    back in the launch, and answers once.
    """
    login = session.get(LtiLogin, state)
    if (
        login is None
        or login.deep_link is None
        or login.role != "instructor"
        or login.launched_at is None
        or login.launched_at + timedelta(hours=1) < clock.now()
    ):
        raise LtiError("this placement is unknown or older than an hour: start it again", 403)
    if login.continued:
        raise LtiError("these exercises were placed already: start again from the course", 403)
    login.continued = True
    platform = session.get(LtiPlatform, login.platform_id)
    assert platform is not None
    now = _epoch()
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": secrets.token_urlsafe(16),
        CLAIM + "deployment_id": login.deep_link["deployment_id"],
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": items,
        "https://purl.imsglobal.org/spec/lti-dl/claim/msg": f"{len(items)} exercise(s) placed",
    }
    if login.deep_link.get("data") is not None:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = login.deep_link["data"]
    return str(login.deep_link["return_url"]), sign(tool_key(session), claims)
