"""The SSRF guard on partner webhooks: what registration refuses under the default
settings, the same check again at delivery (DNS may have changed), connections pinned to
the approved address, and redirects never followed.

Unit tests of ``service/urlsafety.py`` first (no network: literal IPs, ``localhost`` and
injected resolvers), then real servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitest_support import Server, World, assert_problem, start_thread_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from readloom.api.config import ApiConfig
from readloom.service.outbox import pinned_request
from readloom.service.urlsafety import (
    UnsafeUrl,
    UrlPolicy,
    check_addresses,
    check_syntax,
    check_url,
    classify,
)
from readloom.settings import Settings
from readloom.tools.prerequisites import SkillGraph

STRICT = UrlPolicy()
OPEN = UrlPolicy(allow_http=True, allow_private=True)


def _refusal(url: str, policy: UrlPolicy = STRICT, **kw: Any) -> str:
    with pytest.raises(UnsafeUrl) as err:
        asyncio.run(check_url(url, policy, **kw))
    assert err.value.detail and url not in err.value.detail
    return err.value.reason


# --- unit: the checker ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.10", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.10", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "shared_address"),
        ("100.127.255.254", "shared_address"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),
        ("2001:db8::1", "reserved"),
        # IPv4 wrapped in IPv6 is judged as the IPv4 address it carries
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.1.1", "private"),
        ("2002:7f00:1::", "loopback"),
        ("2002:a9fe:a9fe::", "metadata"),
        ("64:ff9b::a00:5", "private"),
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("64:ff9b::5db8:d70e", None),
    ],
)
def test_classify(address: str, reason: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == reason


def test_allow_private_lifts_only_the_private_classes() -> None:
    for address in ("127.0.0.1", "::1", "10.0.0.5", "fd00::1", "169.254.1.1", "100.64.0.1"):
        assert check_addresses([ipaddress.ip_address(address)], OPEN, resolved=False)
    for address, reason in (
        ("169.254.169.254", "metadata"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
    ):
        with pytest.raises(UnsafeUrl) as err:
            check_addresses([ipaddress.ip_address(address)], OPEN, resolved=False)
        assert err.value.reason == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/hook", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("gopher://93.184.215.14/", "bad_scheme"),
        ("http://93.184.215.14/hook", "http_not_allowed"),
        ("https://user:pw@93.184.215.14/hook", "userinfo"),
        ("https://user@93.184.215.14/hook", "userinfo"),
        ("https:///hook", "no_host"),
        ("https://93.184.215.14:99999/", "bad_port"),
    ],
)
def test_check_syntax_refusals(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as err:
        check_syntax(url, STRICT)
    assert err.value.reason == reason


def test_check_syntax_host_and_port() -> None:
    assert check_syntax("https://Example.ORG/hook", STRICT) == ("example.org", 443)
    assert check_syntax("https://[2606:4700::1]:8443/", STRICT) == ("2606:4700::1", 8443)
    assert check_syntax("http://example.org/", OPEN) == ("example.org", 80)


def test_literal_ips_need_no_resolver() -> None:
    def boom(host: str, port: int) -> list[str]:
        raise AssertionError("a literal IP must not be looked up")

    addresses = asyncio.run(check_url("https://93.184.215.14/hook", STRICT, resolver=boom))
    assert addresses == [ipaddress.ip_address("93.184.215.14")]
    assert _refusal("https://10.0.0.5/", resolver=boom) == "private"
    assert _refusal("https://[::1]/", resolver=boom) == "loopback"


def _answers(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


def test_hostnames_are_judged_by_every_address_they_resolve_to() -> None:
    assert _refusal("https://hooks.example/", resolver=_answers("10.1.2.3")) == "private"
    # one bad answer among good ones is enough: the client might pick it
    mixed = _answers("93.184.215.14", "169.254.169.254")
    assert _refusal("https://hooks.example/", resolver=mixed) == "metadata"
    ok = asyncio.run(
        check_url(
            "https://hooks.example/", STRICT, resolver=_answers("93.184.215.14", "93.184.215.14")
        )
    )
    assert ok == [ipaddress.ip_address("93.184.215.14")]  # deduplicated


def test_unresolvable_and_slow_hosts_are_refused() -> None:
    def gaierror(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def slow(host: str, port: int) -> list[str]:
        time.sleep(0.5)
        return ["93.184.215.14"]

    assert _refusal("https://nowhere.example/", resolver=gaierror) == "unresolvable"
    assert _refusal("https://nowhere.example/", resolver=_answers()) == "unresolvable"
    assert _refusal("https://slow.example/", resolver=slow, timeout_s=0.05) == "unresolvable"


def test_the_system_resolver_is_used_for_names_and_odd_ipv4_spellings() -> None:
    assert _refusal("https://localhost/hook") == "loopback"
    assert _refusal("https://0x7f.1/hook") == "loopback"  # inet_aton spelling of 127.0.0.1
    assert _refusal("https://2130706433/") == "loopback"
    assert asyncio.run(check_url("http://localhost:9/", OPEN))


def test_settings_default_to_safe() -> None:
    fields = Settings.model_fields
    assert fields["webhook_allow_http"].default is False
    assert fields["webhook_allow_private"].default is False


# --- unit: pinned connections keep TLS checking the URL's host name -------------------


def _tls_receiver(tmp: Path, name: str) -> tuple[ThreadingHTTPServer, ssl.SSLContext]:
    """An HTTPS server on 127.0.0.1 with a certificate for ``name`` only, and a client
    context trusting its CA."""
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
        return b.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("readloom test CA", ca_key, "readloom test CA", ca_key, True)
    leaf = cert(name, leaf_key, "readloom test CA", ca_key, False)
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    client_ctx = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = self.headers["host"].encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, client_ctx


async def test_pinned_https_request_checks_the_certificate_against_the_url_host(
    tmp_path: Path,
) -> None:
    httpd, trust = _tls_receiver(tmp_path, "hooks.partner.test")
    port = httpd.server_address[1]
    loopback = ipaddress.ip_address("127.0.0.1")
    try:
        async with httpx.AsyncClient(verify=trust, timeout=10) as client:
            # the name does not resolve anywhere: the connection goes to the pinned address
            url = f"https://hooks.partner.test:{port}/hook"
            req = pinned_request(client, url, loopback, content=b"{}", headers={})
            resp = await client.send(req)
            assert resp.status_code == 200
            assert resp.text == f"hooks.partner.test:{port}"  # the Host header the partner sees
            # a certificate for another name is still refused: pinning skips no TLS check
            other = f"https://other.partner.test:{port}/hook"
            req = pinned_request(client, other, loopback, content=b"{}", headers={})
            with pytest.raises(httpx.ConnectError):
                await client.send(req)
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- over HTTP -------------------------------------------------------------------------


class Receiver:
    """A partner endpoint answering every POST with one status (and headers)."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None):
        self.received: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/readloom"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def _wait(pred: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


STRICT_CONFIG = ApiConfig(
    rate_limit_per_minute=100_000, webhook_max_attempts=2, webhook_backoff_base_s=0.2,
    outbox_poll_s=0.1,
)  # fmt: skip


def _strict_settings(home: Path) -> Settings:
    return Settings(home=home, webhook_allow_http=False, webhook_allow_private=False)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, services: Any) -> Iterator[Server]:
    """A server with the default webhook policy: https and public addresses only."""
    settings = _strict_settings(tmp_path_factory.mktemp("strict"))
    ts, base = start_thread_server(settings, services, STRICT_CONFIG)
    try:
        yield Server(base_url=base, settings=settings, backend="sqlite")
    finally:
        ts.stop()


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("https://10.0.0.5/", "webhook_url_private", "private address"),
        ("http://10.0.0.5/", "webhook_url_http_not_allowed", "https"),
        ("https://192.168.1.10:8443/hook", "webhook_url_private", "private address"),
        ("https://[fd00::1]/", "webhook_url_private", "private address"),
        ("https://169.254.169.254/latest", "webhook_url_metadata", "metadata"),
        ("https://169.254.10.10/", "webhook_url_link_local", "link-local"),
        ("https://[fe80::1]/", "webhook_url_link_local", "link-local"),
        ("https://[::1]/", "webhook_url_loopback", "loopback"),
        ("https://127.0.0.1:8443/hook", "webhook_url_loopback", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "webhook_url_loopback", "loopback"),
        ("https://2130706433/", "webhook_url_loopback", "loopback"),
        ("https://100.64.0.1/", "webhook_url_shared_address", "carrier-grade NAT"),
        ("https://224.0.0.1/", "webhook_url_multicast", "multicast"),
        ("https://0.0.0.0/", "webhook_url_unspecified", "unspecified"),
        ("https://240.0.0.1/", "webhook_url_reserved", "reserved"),
        ("https://user:pw@93.184.215.14/hook", "webhook_url_userinfo", "password"),
        ("http://93.184.215.14/hook", "webhook_url_http_not_allowed", "https"),
        ("https://localhost/hook", "webhook_url_loopback", "resolves to a loopback"),
    ],
)
def test_registration_refuses_unsafe_urls_by_default(
    strict: Server, tenant: str, url: str, code: str, says: str
) -> None:
    with strict.client(strict.key(tenant, "partner")) as partner:
        body = assert_problem(partner.post("/v1/webhooks", json={"url": url}), 422, code)
        assert says in body["detail"]
        assert partner.get("/v1/webhooks").json()["items"] == []  # nothing was stored


def test_registration_refuses_other_schemes(strict: Server, tenant: str) -> None:
    with strict.client(strict.key(tenant, "partner")) as partner:
        for url in ("ftp://93.184.215.14/hook", "file:///etc/passwd"):
            r = partner.post("/v1/webhooks", json={"url": url})
            assert "url" in assert_problem(r, 422, "validation_error")["detail"]


def test_registration_accepts_public_addresses(strict: Server, tenant: str) -> None:
    with strict.client(strict.key(tenant, "partner")) as partner:
        for url in ("https://93.184.215.14/hook", "https://[2606:4700:4700::1111]:8443/hook"):
            r = partner.post("/v1/webhooks", json={"url": url, "events": ["alert.created"]})
            assert r.status_code == 201, r.text
            assert r.json()["url"] == url
            assert partner.delete(f"/v1/webhooks/{r.json()['id']}").status_code == 204


def test_delivery_rechecks_the_address_and_records_why(
    tmp_path: Path,
    services: Any,
    tenant: str,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Registered while private addresses were allowed; the operator then turns that off
    (as a DNS answer that changed would): the hook is not called, the row says why."""
    allowing = Settings(home=tmp_path, webhook_allow_http=True, webhook_allow_private=True)
    ts, base = start_thread_server(allowing, services, STRICT_CONFIG)
    try:
        server = Server(base_url=base, settings=allowing, backend="sqlite")
        key = server.key(tenant, "partner")
        with server.client(key) as partner:
            r = partner.post(
                "/v1/webhooks", json={"url": receiver.url, "events": ["mastery.updated"]}
            )
            assert r.status_code == 201, r.text
            hook_id = r.json()["id"]
    finally:
        ts.stop()

    # Plain http stays allowed (the local receiver has no TLS): only the address is judged.
    settings = Settings(home=tmp_path, webhook_allow_http=True, webhook_allow_private=False)
    ts, base = start_thread_server(settings, services, STRICT_CONFIG)
    try:
        server = Server(base_url=base, settings=settings, backend="sqlite")
        skill = SkillGraph.load(settings.skills_path).skills[0].id
        with (
            server.client(key) as partner,
            caplog.at_level(logging.INFO, "readloom.service.outbox"),
        ):
            r = partner.post(
                "/v1/students/s7/graded-responses", json={"skill": skill, "correct": True}
            )
            assert r.status_code == 201, r.text

            def failed() -> dict[str, Any] | None:
                items = partner.get(f"/v1/webhooks/{hook_id}/deliveries").json()["items"]
                return items[0] if items and items[0]["status"] == "failed" else None

            delivery = _wait(failed)
    finally:
        ts.stop()
    assert receiver.received == []  # no request reached the receiver
    assert delivery["attempts"] == 2  # retried on the usual backoff, then given up
    assert delivery["last_error"] == "url_refused:loopback"
    assert delivery["last_status_code"] is None
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "readloom.service.outbox"
    )
    assert "reason=loopback" in logged
    for private in ("127.0.0.1", str(receiver.port), "s7", skill):
        assert private not in logged


def test_deliveries_do_not_follow_redirects(world: World) -> None:
    target = Receiver()
    redirector = Receiver(307, {"location": target.url})
    try:
        r = world.partner.post(
            "/v1/webhooks", json={"url": redirector.url, "events": ["mastery.updated"]}
        )
        assert r.status_code == 201, r.text
        hook_id = r.json()["id"]
        skill = SkillGraph.load(world.server.settings.skills_path).skills[0].id
        world.partner.post(
            "/v1/students/s2/graded-responses", json={"skill": skill, "correct": True}
        )
        _wait(lambda: redirector.received)

        def attempted() -> dict[str, Any] | None:
            items = world.partner.get(f"/v1/webhooks/{hook_id}/deliveries").json()["items"]
            return items[0] if items and items[0]["attempts"] else None

        delivery = _wait(attempted)
        assert delivery["status"] == "pending"  # a redirect is a failure, retried later
        assert (delivery["last_status_code"], delivery["last_error"]) == (307, "http_307")
        assert target.received == []
        assert world.partner.delete(f"/v1/webhooks/{hook_id}").status_code == 204
    finally:
        target.close()
        redirector.close()


def test_delivery_by_host_name_keeps_the_host_header(world: World, receiver: Receiver) -> None:
    """The connection goes to the checked address; the partner still sees its host name."""
    url = f"http://localhost:{receiver.port}/hooks/readloom"
    r = world.partner.post("/v1/webhooks", json={"url": url, "events": ["mastery.updated"]})
    assert r.status_code == 201, r.text
    skill = SkillGraph.load(world.server.settings.skills_path).skills[0].id
    world.partner.post("/v1/students/s1/graded-responses", json={"skill": skill, "correct": True})
    headers = _wait(lambda: receiver.received)[0]
    assert headers["host"] == f"localhost:{receiver.port}"
    delivered = _wait(
        lambda: [
            d
            for d in world.partner.get(f"/v1/webhooks/{r.json()['id']}/deliveries").json()["items"]
            if d["status"] == "delivered"
        ]
    )
    assert delivered[0]["attempts"] == 1
