"""``readloom serve`` and ``readloom keys create``; the lead's CLI group calls
``register(group)`` to add them."""

from __future__ import annotations

import asyncio
import json
import socket

import click

from readloom.settings import get_settings


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(keys)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
@click.option("--demo", is_flag=True, help="Local demo tenant with a teacher, a student and pages.")
def serve(host: str, port: int, log_level: str, demo: bool) -> None:
    """Run the HTTP API and the student/teacher pages (migrations run at start)."""
    from readloom.api.supervise import inherited_socket, serve_command, supervise

    sock = inherited_socket()
    if sock is None:
        sock = _listen(host, port)  # first: a taken port is said at once, before any loading
        args = ["serve", "--host", host, "--port", str(port), "--log-level", log_level]
        command = serve_command([*args, "--demo"] if demo else args)
        raise SystemExit(supervise(command, sock, _grace_s()))
    import uvicorn

    from readloom.api.app import create_app
    from readloom.storage.db import migrate

    settings = get_settings()
    migrate(settings)
    app = create_app(settings)
    if demo:
        from readloom.api.web import enable_demo

        enable_demo(app)
        click.echo(f"readloom demo: open http://{host}:{port}", err=True)
    from readloom.api.shutdown import GracefulServer, exit_process

    def drain() -> None:
        rt = getattr(app.state, "runtime", None)
        if rt is not None:
            rt.draining = True

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_s, log_config=None,  # type: ignore[arg-type]
    )  # fmt: skip
    GracefulServer(config, grace_s=settings.shutdown_grace_s, on_drain=drain).run([sock])
    exit_process(0)


def _grace_s() -> float:
    return get_settings().shutdown_grace_s


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is one clear message."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): another program, perhaps "
            f"another `readloom serve`, is using it. Stop it, or choose another port with "
            f"--port {port + 1}."
        ) from None
    return sock


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant id (created if new)")
@click.option(
    "--role", required=True, type=click.Choice(["student", "teacher", "partner", "admin"])
)
@click.option("--subject", default=None, help="Pseudonymous id (students and teachers)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def create(tenant: str, role: str, subject: str | None, fmt: str) -> None:
    """Mint a key; it is printed once and only its hash is stored."""
    from readloom.api.auth import create_key
    from readloom.storage.db import Database, migrate

    settings = get_settings()
    migrate(settings)

    async def _run() -> object:
        db = Database(settings)
        try:
            return await create_key(db, tenant=tenant, role=role, subject=subject)  # type: ignore[arg-type]
        finally:
            await db.dispose()

    try:
        new = asyncio.run(_run())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        click.echo(
            json.dumps(
                {k: getattr(new, k) for k in ("id", "key", "prefix", "tenant", "role", "subject")}
            )
        )
    else:
        click.echo(new.key)  # type: ignore[attr-defined]
        click.echo(
            f"id={new.id} prefix={new.prefix} tenant={tenant} role={role} (shown once: store it now)",  # type: ignore[attr-defined]
            err=True,
        )
