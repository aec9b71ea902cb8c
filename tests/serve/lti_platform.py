"""A learning platform for the tests: LTI 1.3 with AGS and NRPS, on a loopback port.

It has its own RSA key and JWKS, an OIDC authorization endpoint that answers
a login with a signed id token, an OAuth 2 token endpoint that checks the
tool's JWT assertion against the tool's published JWKS (fetched over HTTP),
line items and scores (AGS), a paged roster (NRPS), and a deep linking return
that checks the tool's signed answer. What it received is kept for the tests
to read; ``break_scores`` makes its scores service answer 500 a number of times.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from grader.course.find import Course
from grader.serve import lti
from grader.serve.app import Config, create_app

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
CLIENT_ID = "grade-tool-1"
DEPLOYMENT = "deployment-1"
COURSE = "course-7"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1:``port``; yield its address."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def epoch() -> int:
    return int(time.time())


@dataclass
class Platform:
    """The platform's state: its key, its users, and everything it received."""

    url: str
    tool_url: str
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
    )
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    score_calls: int = 0
    break_scores: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> its scopes
    deep_links: list[dict[str, Any]] = field(default_factory=list)
    members_page: int = 2  # members per NRPS page
    # What the next id token gets changed (a refusal test's forgery): claim -> value, None drops.
    tamper: dict[str, Any] = field(default_factory=dict)
    sign_with: RSAKey | None = None
    message: str = "LtiResourceLinkRequest"
    target: str = ""

    @property
    def issuer(self) -> str:
        return self.url

    def add_user(self, hint: str, sub: str, name: str, email: str, role: str = LEARNER) -> None:
        self.users[hint] = {"sub": sub, "name": name, "email": email, "roles": [role]}

    def id_token(self, params: dict[str, str]) -> str:
        user = self.users[params["login_hint"]]
        now = epoch()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": params["client_id"],
            "sub": user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": params["nonce"],
            "name": user["name"],
            "email": user["email"],
            CLAIM + "deployment_id": DEPLOYMENT,
            CLAIM + "message_type": self.message,
            CLAIM + "version": "1.3.0",
            CLAIM + "roles": user["roles"],
            CLAIM + "target_link_uri": self.target or f"{self.tool_url}/exercises/01_leaf_tensors",
            CLAIM + "resource_link": {"id": "link-1"},
            CLAIM + "context": {"id": COURSE, "title": "Autograd 101"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": [
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                ],
                "lineitems": f"{self.url}/courses/{COURSE}/lineitems",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/courses/{COURSE}/memberships",
                "service_versions": ["2.0"],
            },
        }
        if self.message == "LtiDeepLinkingRequest":
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_multiple": True,
                "data": "opaque-42",
            }
        for name, value in self.tamper.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.sign_with or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def tool_keys(self) -> KeySet:
        reply = httpx.get(f"{self.tool_url}/lti/jwks", timeout=10)
        reply.raise_for_status()
        return KeySet.import_key_set(reply.json())

    def scored(self) -> list[tuple[str, str, float, float]]:
        """Return the scores received: (line item's resource id, user, given, maximum)."""
        by_id = {item["id"]: item for item in self.line_items}
        return [
            (by_id[s["lineitem"]]["resourceId"], s["userId"], s["scoreGiven"], s["scoreMaximum"])
            for s in self.scores
        ]


def platform_app(platform: Platform) -> FastAPI:
    """Return the platform's web application."""
    app = FastAPI()

    def allowed(request: Request, scope: str) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return scope in platform.tokens.get(token, "").split()

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [platform.key.as_dict(private=False)]}

    @app.get("/auth")
    def auth(request: Request) -> Response:
        params = dict(request.query_params)
        wanted = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
        }
        if any(params.get(k) != v for k, v in wanted.items()):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if params.get("redirect_uri") != f"{platform.tool_url}/lti/launch":
            return JSONResponse({"error": "invalid_request_uri"}, status_code=400)
        # What a platform's auto-posting form carries to the tool's redirect URI.
        return JSONResponse(
            {
                "action": params["redirect_uri"],
                "id_token": platform.id_token(params),
                "state": params["state"],
            }
        )

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        try:
            assertion = jwt.decode(str(form["client_assertion"]), platform.tool_keys())
        except (JoseError, KeyError, ValueError):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        claims = assertion.claims
        good = (
            form.get("grant_type") == "client_credentials"
            and claims.get("iss") == CLIENT_ID
            and claims.get("sub") == CLIENT_ID
            and claims.get("aud") == f"{platform.url}/token"
            and claims.get("exp", 0) > epoch()
        )
        if not good:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access = secrets.token_urlsafe(16)
        platform.tokens[access] = str(form.get("scope") or "")
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 3600})

    @app.get("/courses/{course}/lineitems")
    def line_items(request: Request, course: str) -> Response:
        if not allowed(request, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"):
            return Response(status_code=401)
        wanted = request.query_params.get("resource_id")
        return JSONResponse(
            [i for i in platform.line_items if wanted is None or i["resourceId"] == wanted]
        )

    @app.post("/courses/{course}/lineitems")
    async def new_line_item(request: Request, course: str) -> Response:
        if not allowed(request, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"):
            return Response(status_code=401)
        body = await request.json()
        item = {
            **body,
            "id": f"{platform.url}/courses/{course}/lineitems/{len(platform.line_items) + 1}",
        }
        platform.line_items.append(item)
        return JSONResponse(item, status_code=201)

    @app.post("/courses/{course}/lineitems/{number}/scores")
    async def score(request: Request, course: str, number: int) -> Response:
        if not allowed(request, "https://purl.imsglobal.org/spec/lti-ags/scope/score"):
            return Response(status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return Response(status_code=415)
        platform.score_calls += 1
        if platform.break_scores > 0:
            platform.break_scores -= 1
            return Response("the gradebook is down", status_code=500)
        body = await request.json()
        platform.scores.append(
            {**body, "lineitem": f"{platform.url}/courses/{course}/lineitems/{number}"}
        )
        return Response(status_code=200)

    @app.get("/courses/{course}/memberships")
    def memberships(request: Request, course: str, page: int = 0) -> Response:
        if not allowed(
            request, "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
        ):
            return Response(status_code=401)
        members = [
            {
                "user_id": user["sub"],
                "name": user["name"],
                "email": user["email"],
                "roles": user["roles"],
                "status": "Active",
            }
            for user in platform.users.values()
        ]
        size = platform.members_page
        chunk = members[page * size : (page + 1) * size]
        headers = {}
        if (page + 1) * size < len(members):
            next_url = f"{platform.url}/courses/{course}/memberships?page={page + 1}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(
            {"id": str(request.url), "context": {"id": course}, "members": chunk},
            headers=headers,
            media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )

    @app.post("/deep-link-return")
    async def deep_link_return(request: Request) -> Response:
        form = await request.form()
        try:
            answer = jwt.decode(str(form["JWT"]), platform.tool_keys())
        except (JoseError, KeyError, ValueError):
            return Response("not signed by the tool", status_code=400)
        claims = answer.claims
        if claims.get("aud") != platform.issuer or claims.get("iss") != CLIENT_ID:
            return Response("not for this platform", status_code=400)
        platform.deep_links.append(dict(claims))
        return Response("placed", status_code=200)

    return app


@dataclass
class Setup:
    platform: Platform
    tool: str
    engine: Engine


@pytest.fixture
def setup(engine: Engine, course: Course) -> Iterator[Setup]:
    """The tool and a registered platform, each on its own loopback port."""
    tool_port, platform_port = free_port(), free_port()
    tool_url, platform_url = f"http://127.0.0.1:{tool_port}", f"http://127.0.0.1:{platform_port}"
    platform = Platform(platform_url, tool_url)
    platform.add_user("hint-carol", "sub-carol", "Carol Jones", "carol@example.edu")
    platform.add_user("hint-dan", "sub-dan", "Dan Smith", "dan@example.edu")
    platform.add_user("hint-prof", "sub-prof", "Prof Ada", "ada@example.edu", INSTRUCTOR)
    with Session(engine) as session, session.begin():
        lti.add_platform(
            session,
            platform.issuer,
            CLIENT_ID,
            [DEPLOYMENT],
            f"{platform_url}/auth",
            f"{platform_url}/token",
            f"{platform_url}/jwks",
        )
    app = create_app(Config(course=course, engine=engine, public_url=tool_url))
    with serving(platform_app(platform), platform_port), serving(app, tool_port):
        yield Setup(platform, tool_url, engine)


def browser(setup: Setup) -> httpx.Client:
    return httpx.Client(base_url=setup.tool, follow_redirects=False, timeout=30)


def form(setup: Setup, web: httpx.Client, hint: str) -> dict[str, str]:
    """Start a login as the platform does; return what its form would post to the tool."""
    reply = web.get(
        "/lti/login",
        params={
            "iss": setup.platform.issuer,
            "login_hint": hint,
            "target_link_uri": f"{setup.tool}/exercises/01_leaf_tensors",
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT,
        },
    )
    assert reply.status_code == 303, reply.text
    authorize = httpx.get(reply.headers["location"], timeout=30)
    assert authorize.status_code == 200, authorize.text
    answer: dict[str, str] = authorize.json()
    assert answer["action"] == f"{setup.tool}/lti/launch"
    return answer


def launch(
    setup: Setup, web: httpx.Client, hint: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Log in and launch as ``hint``; return the tool's answer to the launch."""
    answer = form(setup, web, hint)
    return web.post(
        "/lti/launch",
        data={"id_token": answer["id_token"], "state": answer["state"]},
        headers=headers or {},
    )
