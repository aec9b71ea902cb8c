"""LTI 1.3 against a real platform on a loopback port: login, launch, refusals, deep linking.

The platform (``lti_platform``) and the tool both listen on 127.0.0.1; the
test is the browser between them, and the tool fetches the platform's keys
over HTTP, as the platform fetches the tool's.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from joserfc.jwk import RSAKey
from lti_platform import CLAIM, CLIENT_ID, DEPLOYMENT, Setup, browser, epoch, form, launch
from serving import COURSE
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.cli import cli
from grader.serve.accounts import import_roster
from grader.serve.app import SESSION_COOKIE
from grader.serve.models import LtiUser, Student


def _signed_in_as(web: httpx.Client) -> str:
    page = web.get("/").text
    found = re.search(r'<span class="who">([^<]*)</span>', page)
    return found.group(1) if found else ""


def test_the_jwks_endpoint_publishes_the_tools_public_key_with_a_kid(setup: Setup) -> None:
    keys = httpx.get(f"{setup.tool}/lti/jwks", timeout=10).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"] and keys[0]["alg"] == "RS256"
    assert "d" not in keys[0] and "p" not in keys[0]  # the public part only


def test_a_learner_found_in_the_roster_is_signed_in_and_sees_the_linked_exercise(
    setup: Setup, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,student,email\ncarol_j,Carol,CAROL@example.edu\n", encoding="utf-8")
    with Session(setup.engine) as session, session.begin():
        import_roster(session, roster, None, setup.tool)
    with browser(setup) as web:
        reply = launch(setup, web, "hint-carol")
        assert reply.status_code == 303, reply.text
        assert reply.headers["location"] == "/exercises/01_leaf_tensors"
        page = web.get(reply.headers["location"])
        assert page.status_code == 200
        assert '<option value="01_leaf_tensors" selected>' in page.text
        assert _signed_in_as(web) == "carol_j"
    # Launched again: the same student, linked by the platform's user id now.
    with browser(setup) as web:
        assert launch(setup, web, "hint-carol").status_code == 303
        assert _signed_in_as(web) == "carol_j"
    with Session(setup.engine) as session:
        assert session.scalar(select(func.count(Student.id))) == 1


def test_a_learner_not_in_the_roster_is_added_to_it_from_the_launch(setup: Setup) -> None:
    with browser(setup) as web:
        assert launch(setup, web, "hint-dan").status_code == 303
        assert _signed_in_as(web) == "dan"
    with Session(setup.engine) as session:
        student = session.scalars(select(Student)).one()
        assert student.roster["email"] == "dan@example.edu"
        assert student.roster["student"] == "Dan Smith"


def test_an_instructor_launch_signs_in_an_instructor_without_a_password(setup: Setup) -> None:
    with browser(setup) as web:
        reply = launch(setup, web, "hint-prof")
        assert reply.status_code == 303
        assert web.get("/class").status_code == 200
    with browser(setup) as web:
        token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/").text)
        assert token
        refused = web.post(
            "/login", data={"name": "Prof Ada", "password": "!lti", "csrf_token": token.group(1)}
        )
        assert refused.status_code == 403


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "platform-1"})


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ({"sign_with": OTHER_KEY}, "signature is not made by the platform's key"),
        ({"exp": epoch() - 3600, "iat": epoch() - 4000}, "expired"),
        ({"aud": "another-tool"}, "meant for another tool"),
        ({"aud": [CLIENT_ID, "another-tool"], "azp": "another-tool"}, "(azp) is not this tool"),
        ({CLAIM + "deployment_id": "deployment-9"}, "deployment 'deployment-9'"),
        ({CLAIM + "roles": None}, "no roles claim"),
        ({CLAIM + "version": "1.1"}, "this tool speaks 1.3.0"),
        ({"nonce": "made-up"}, "nonce is not the one"),
    ],
    ids=[
        "another_key",
        "expired",
        "wrong_audience",
        "wrong_azp",
        "unknown_deployment",
        "no_roles",
        "wrong_version",
        "wrong_nonce",
    ],
)
def test_a_forged_or_stale_launch_is_refused_with_a_page_and_signs_nobody_in(
    setup: Setup, forgery: dict[str, Any], reason: str
) -> None:
    tamper = dict(forgery)
    setup.platform.sign_with = tamper.pop("sign_with", None)
    setup.platform.tamper = tamper
    with browser(setup) as web:
        reply = launch(setup, web, "hint-dan")
        assert reply.status_code == 403, reply.text
        assert reason in html.unescape(reply.text)
        assert '<p class="problem">' in reply.text  # the error page, not a traceback
        assert SESSION_COOKIE not in reply.headers.get("set-cookie", "")
        assert _signed_in_as(web) == ""
    with Session(setup.engine) as session:
        assert session.scalar(select(func.count(LtiUser.id))) == 0
        assert session.scalar(select(func.count(Student.id))) == 0


def test_a_launch_replayed_with_its_spent_nonce_is_refused(setup: Setup) -> None:
    with browser(setup) as web:
        answer = form(setup, web, "hint-dan")
        data = {"id_token": answer["id_token"], "state": answer["state"]}
        assert web.post("/lti/launch", data=data).status_code == 303
    with browser(setup) as thief:
        reply = thief.post("/lti/launch", data=data)
        assert reply.status_code == 403
        assert "already used" in reply.text
        assert SESSION_COOKIE not in reply.headers.get("set-cookie", "")


def test_a_launch_from_an_unknown_platform_or_to_another_site_is_refused(setup: Setup) -> None:
    with browser(setup) as web:
        reply = web.get(
            "/lti/login",
            params={"iss": "https://evil.example", "login_hint": "x", "target_link_uri": "/"},
        )
        assert reply.status_code == 403 and "not registered here" in reply.text
        reply = web.get(
            "/lti/login",
            params={
                "iss": setup.platform.issuer,
                "login_hint": "hint-dan",
                "target_link_uri": "https://evil.example/phish",
            },
        )
        assert reply.status_code == 400 and "not an address of this server" in reply.text
        reply = web.get(
            "/lti/login",
            params={
                "iss": setup.platform.issuer,
                "login_hint": "hint-dan",
                "target_link_uri": f"{setup.tool}/",
                "lti_deployment_id": "deployment-9",
            },
        )
        assert reply.status_code == 403 and "deployment-9" in html.unescape(reply.text)
        reply = web.post("/lti/launch", data={"id_token": "x.y.z", "state": "never-issued"})
        assert reply.status_code == 403 and "did not start here" in reply.text


def test_a_launch_in_an_iframe_continues_in_a_new_window_without_a_prior_cookie(
    setup: Setup,
) -> None:
    with browser(setup) as web:
        reply = launch(setup, web, "hint-dan", headers={"Sec-Fetch-Dest": "iframe"})
        assert reply.status_code == 200
        assert "Open in a new window" in reply.text
        assert "X-Frame-Options" not in reply.headers
        assert "frame-ancestors https:" in reply.headers["content-security-policy"]
        assert SESSION_COOKIE not in reply.headers.get("set-cookie", "")
        href = re.search(r'href="(/lti/continue/[^"]+)" target="_blank"', reply.text)
        assert href
    # The new window: a first-party visit of its own, with no cookie from before.
    with browser(setup) as window:
        opened = window.get(href.group(1))
        assert opened.status_code == 303 and opened.headers["location"].startswith("/exercises/")
        assert _signed_in_as(window) == "dan"
    with browser(setup) as again:
        assert again.get(href.group(1)).status_code == 403  # the link works once


def test_deep_linking_places_the_chosen_exercises_with_their_line_items(setup: Setup) -> None:
    setup.platform.message = "LtiDeepLinkingRequest"
    with browser(setup) as web:
        page = launch(setup, web, "hint-prof", headers={"Sec-Fetch-Dest": "iframe"})
        assert page.status_code == 200
        assert "Place exercises in your course" in page.text
        state = re.search(r'name="state" value="([^"]+)"', page.text)
        assert state
        chosen = {"state": state.group(1), "exercise": ["01_leaf_tensors", "03_multi_input_grads"]}
        answer = web.post("/lti/deep-link", data=chosen)
        assert answer.status_code == 200, answer.text
        assert (
            f"form-action 'self' {setup.platform.url}" in answer.headers["content-security-policy"]
        )
        action = re.search(r'<form method="post" action="([^"]+)"', answer.text)
        token = re.search(r'name="JWT" value="([^"]+)"', answer.text)
        assert action and token
        assert action.group(1) == f"{setup.platform.url}/deep-link-return"
        assert httpx.post(action.group(1), data={"JWT": token.group(1)}).status_code == 200
        again = web.post("/lti/deep-link", data=chosen)
        assert again.status_code == 403
    (claims,) = setup.platform.deep_links
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "deployment_id"] == DEPLOYMENT
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [i["lineItem"]["resourceId"] for i in items] == [
        "01_leaf_tensors",
        "03_multi_input_grads",
    ]
    assert items[0]["url"] == f"{setup.tool}/exercises/01_leaf_tensors"
    assert items[0]["lineItem"]["scoreMaximum"] > 0


def test_a_learner_cannot_answer_a_deep_linking_request(setup: Setup) -> None:
    setup.platform.message = "LtiDeepLinkingRequest"
    with browser(setup) as web:
        reply = launch(setup, web, "hint-dan")
        assert reply.status_code == 403
        assert "only an instructor" in reply.text


def test_lti_platform_commands_register_list_and_remove_a_platform(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'grade.db'}"
    common = ["--db", db, "--course", str(COURSE)]
    added = CliRunner().invoke(
        cli,
        [
            "serve",
            "lti",
            "add-platform",
            "https://canvas.instructure.com",
            "--client-id",
            "10000000000001",
            "--deployment",
            "1:abc",
            "--login-url",
            "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "--token-url",
            "https://sso.canvaslms.com/login/oauth2/token",
            "--jwks-url",
            "https://sso.canvaslms.com/api/lti/security/jwks",
            "--url",
            "https://grade.example.edu",
            *common,
        ],
    )
    assert added.exit_code == 0, added.output
    assert "https://grade.example.edu/lti/launch" in added.output
    assert "https://grade.example.edu/lti/jwks" in added.output
    listed = CliRunner().invoke(cli, ["serve", "lti", "list", *common])
    assert "10000000000001" in listed.output and "1:abc" in listed.output
    insecure = CliRunner().invoke(
        cli,
        [
            "serve",
            "lti",
            "add-platform",
            "https://moodle.example.edu",
            "--client-id",
            "x",
            "--deployment",
            "1",
            "--login-url",
            "http://moodle.example.edu/auth",
            "--token-url",
            "https://moodle.example.edu/token",
            "--jwks-url",
            "https://moodle.example.edu/jwks",
            *common,
        ],
    )
    assert insecure.exit_code == 2 and "must be an https:// address" in insecure.output
    assert "Traceback" not in insecure.output
    removed = CliRunner().invoke(
        cli, ["serve", "lti", "remove", "https://canvas.instructure.com", *common]
    )
    assert removed.exit_code == 0
    listed = CliRunner().invoke(cli, ["serve", "lti", "list", *common])
    assert "no platform registered" in listed.output
