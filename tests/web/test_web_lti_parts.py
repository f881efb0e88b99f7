"""LTI building blocks without a browser: role mapping, the platform registry and the
``readloom lti`` commands, id_token checks, and the AGS client against a local LMS."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import click
import jwt
import pytest
from click.testing import CliRunner
from lti_platform import ROLES, FakePlatform

from readloom.api.lti.ags import AgsClient, scores_url
from readloom.api.lti.cli import register
from readloom.api.lti.registry import Platform, PlatformRegistry, default_tenant
from readloom.api.lti.toolkey import ToolKey
from readloom.api.lti.verify import JwksCache, LaunchRefused, map_role, verify_launch
from readloom.settings import get_settings

M = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
I = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"  # noqa: E741


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (ROLES["student"], "student"),
        (ROLES["teacher"], "teacher"),
        ([M + "Instructor#TeachingAssistant"], "teacher"),
        ([M + "ContentDeveloper"], "teacher"),
        ([M + "Learner", M + "Instructor"], "teacher"),
        (["Learner"], "student"),  # short context role names are still seen in the wild
        ([M + "Mentor"], None),  # a parent: neither the reader nor the teacher
        ([M + "Mentor", I + "Faculty"], None),  # context roles decide
        ([I + "Student"], "student"),
        ([I + "Faculty"], "teacher"),
        ([], None),
    ],
)
def test_role_mapping(roles, expected):
    assert map_role(roles) == expected


def cli() -> click.Group:
    group = click.Group()
    register(group)
    return group


def test_lti_register_list_remove_and_jwks():
    runner = CliRunner()
    args = [
        "lti", "register", "--issuer", "https://canvas.example.edu", "--client-id", "1000042",
        "--auth-login-url", "https://canvas.example.edu/api/lti/authorize_redirect",
        "--jwks-url", "https://canvas.example.edu/api/lti/security/jwks",
        "--deployment-id", "d-1", "--deployment-id", "d-2",
        "--ags-token-url", "https://canvas.example.edu/login/oauth2/token",
    ]  # fmt: skip
    r = runner.invoke(cli(), args)
    assert r.exit_code == 0, r.output
    assert "tenant lti-canvas.example.edu" in r.output and "/lti/launch" in r.output
    listed = json.loads(runner.invoke(cli(), ["lti", "list", "--format", "json"]).output)
    assert len(listed) == 1 and listed[0]["deployment_ids"] == ["d-1", "d-2"]
    # registering again replaces, it does not duplicate
    r = runner.invoke(cli(), [*args[:-2], "--tenant", "district-7"])
    assert r.exit_code == 0, r.output
    (p,) = PlatformRegistry(get_settings()).all()
    assert p.tenant == "district-7" and p.ags_token_url is None
    jwks = json.loads(runner.invoke(cli(), ["lti", "jwks"]).output)
    assert jwks["keys"][0]["kid"] == ToolKey(get_settings()).kid and "d" not in jwks["keys"][0]
    r = runner.invoke(
        cli(), ["lti", "remove", "--issuer", "https://canvas.example.edu", "--client-id", "1000042"]
    )
    assert r.exit_code == 0 and PlatformRegistry(get_settings()).all() == []


def test_lti_register_refuses_plain_http_outside_loopback():
    r = CliRunner().invoke(cli(), [
        "lti", "register", "--issuer", "https://lms.example", "--client-id", "c",
        "--auth-login-url", "http://lms.example/auth", "--jwks-url", "https://lms.example/jwks",
        "--deployment-id", "d",
    ])  # fmt: skip
    assert r.exit_code == 2 and "--auth-login-url" in r.output and "https" in r.output
    assert PlatformRegistry(get_settings()).all() == []


def test_default_tenant_and_scores_url():
    assert default_tenant("https://moodle.district.k12.us/") == "lti-moodle.district.k12.us"
    assert scores_url("https://lms/ags/li/9?type=x") == "https://lms/ags/li/9/scores?type=x"


def test_tool_key_is_private_and_stable():
    key = ToolKey(get_settings())
    kid = key.kid
    assert oct(key.path.stat().st_mode & 0o777) == "0o600"
    assert ToolKey(get_settings()).kid == kid


@pytest.fixture
def platform():
    lms = FakePlatform(tool_url="http://127.0.0.1:9").start()
    try:
        yield lms
    finally:
        lms.stop()


def registered(lms: FakePlatform) -> Platform:
    return Platform(**lms.registration(), tenant="t")


def test_verify_launch_checks(platform):
    p, jwks = registered(platform), JwksCache()
    launch, nonce = verify_launch(
        platform.id_token("student", "n-1"), platform=p, nonce="n-1", jwks=jwks
    )
    assert (launch.role, launch.sub, launch.passage_id, launch.grade, nonce) == (
        "student", "lms-user-1001", "lighthouse-keeper", 4, "n-1",
    )  # fmt: skip
    assert launch.ags_lineitem == platform.url + "/lineitems/1"
    assert "name" not in launch.model_dump() and "email" not in launch.model_dump()
    cases = {
        "bad_signature": platform.id_token("student", "n", "bad_signature"),
        "wrong_nonce": platform.id_token("student", "n", "wrong_nonce"),
        "wrong_audience": platform.id_token("student", "n", "wrong_aud"),
        "unknown_deployment": platform.id_token("student", "n", "unknown_deployment"),
        "malformed_token": "not-a-jwt",
    }
    for reason, token in cases.items():
        with pytest.raises(LaunchRefused) as exc:
            verify_launch(token, platform=p, nonce="n", jwks=jwks)
        assert exc.value.reason == reason
    now = int(time.time())
    expired = jwt.encode(
        {**jwt.decode(cases["wrong_nonce"], options={"verify_signature": False}),
         "nonce": "n", "iat": now - 900, "exp": now - 600},
        platform.key, algorithm="RS256", headers={"kid": platform.kid},
    )  # fmt: skip
    with pytest.raises(LaunchRefused) as exc:
        verify_launch(expired, platform=p, nonce="n", jwks=jwks)
    assert exc.value.reason == "expired_token"
    unsigned = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256")
    with pytest.raises(LaunchRefused) as exc:
        verify_launch(unsigned, platform=p, nonce="n", jwks=jwks)
    assert exc.value.reason == "bad_algorithm"


def run_in_thread(coro):
    """asyncio.run on a worker thread: in a session with browser tests, Playwright's
    event loop owns the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_ags_client_refused_token_is_an_error(platform):
    """The local LMS checks the client assertion against the tool's JWKS URL, which is
    unreachable here: the token request is refused and no score is posted."""
    from readloom.api.lti.ags import AgsError

    client = AgsClient(ToolKey(get_settings()), timeout_s=5)
    with pytest.raises(AgsError) as exc:
        run_in_thread(
            client.post_score(
                registered(platform),
                lineitem=platform.url + "/lineitems/1",
                user_id="u",
                score=50,
                maximum=100,
            )  # fmt: skip
        )
    assert exc.value.reason == "token_refused" and exc.value.status == 401
    assert platform.scores == []
