"""The CLI: ``keys create`` prints a usable key once and stores only its hash;
``register`` adds ``serve`` and ``keys`` to the lead's click group."""

from __future__ import annotations

import asyncio
import json

import click
from click.testing import CliRunner
from sqlalchemy import select

from readloom.api.auth import KeyCache, hash_key
from readloom.api.cli import register
from readloom.settings import get_settings
from readloom.storage.db import Database
from readloom.storage.models import ApiKey


def _group() -> click.Group:
    @click.group()
    def cli() -> None:
        pass

    register(cli)
    return cli


def test_register_adds_serve_and_keys() -> None:
    cli = _group()
    assert {"serve", "keys"} <= set(cli.commands)
    out = CliRunner().invoke(cli, ["serve", "--help"])
    assert out.exit_code == 0 and "--port" in out.output and "127.0.0.1" in out.output


def test_keys_create_prints_a_key_once_and_stores_its_hash() -> None:
    result = CliRunner().invoke(
        _group(), ["keys", "create", "--tenant", "district-9", "--role", "teacher",
                   "--subject", "tch-42", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    key = made["key"]
    assert key.startswith("rlk_") and made["prefix"] == key[:12]

    async def check() -> tuple[object, list[ApiKey]]:
        db = Database(get_settings())
        try:
            principal = await KeyCache(db).resolve(key)
            async with db.reader() as s:
                rows = list((await s.execute(select(ApiKey))).scalars())
            return principal, rows
        finally:
            await db.dispose()

    principal, rows = asyncio.run(check())
    assert principal is not None
    assert (principal.tenant, principal.role, principal.subject) == (
        "district-9",
        "teacher",
        "tch-42",
    )
    (row,) = rows
    assert row.key_hash == hash_key(key) and key not in (row.prefix, row.key_hash)


def test_keys_create_refuses_bad_input() -> None:
    runner = CliRunner()
    r = runner.invoke(_group(), ["keys", "create", "--tenant", "t", "--role", "student"])
    assert r.exit_code != 0 and "--subject" in r.output
    r = runner.invoke(_group(), ["keys", "create", "--tenant", "bad tenant!", "--role", "admin"])
    assert r.exit_code != 0 and "tenant" in r.output
    r = runner.invoke(_group(), ["keys", "create", "--tenant", "t", "--role", "root"])
    assert r.exit_code != 0


def test_serve_on_a_taken_port_says_so_in_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = CliRunner().invoke(_group(), ["serve", "--port", str(port)])
    assert out.exit_code == 1, out.output
    (line,) = out.output.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line and f"--port {port + 1}" in line
    assert "Traceback" not in out.output
