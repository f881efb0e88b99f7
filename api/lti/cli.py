"""``readloom lti register|list|remove|jwks``; the lead's CLI calls ``register(group)``."""

from __future__ import annotations

import json

import click
from pydantic import ValidationError

from readloom.settings import get_settings


def register(group: click.Group) -> None:
    group.add_command(lti)


@click.group()
def lti() -> None:
    """Connect an LMS (Canvas, Moodle, Schoology…) over LTI 1.3."""


@lti.command("register")
@click.option(
    "--issuer",
    required=True,
    help="The platform's issuer (iss), e.g. https://canvas.instructure.com",
)
@click.option("--client-id", required=True, help="The client id the platform gave readloom")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization endpoint")
@click.option("--jwks-url", required=True, help="The platform's public keyset URL")
@click.option(
    "--deployment-id", "deployment_ids", required=True, multiple=True, help="Repeat for several"
)
@click.option("--ags-token-url", default=None, help="OAuth2 token URL (enables grade passback)")
@click.option(
    "--auth-token-aud", default=None, help="aud for the token request, if not the token URL"
)
@click.option(
    "--tenant", default=None, help="readloom tenant of its users (default: lti-<issuer host>)"
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def register_platform(
    issuer: str, client_id: str, auth_login_url: str, jwks_url: str,
    deployment_ids: tuple[str, ...], ags_token_url: str | None, auth_token_aud: str | None,
    tenant: str | None, fmt: str,
) -> None:  # fmt: skip
    """Register (or update) a platform that may launch readloom."""
    from readloom.api.lti.registry import Platform, PlatformRegistry, default_tenant
    from readloom.api.lti.toolkey import ToolKey

    settings = get_settings()
    try:
        platform = Platform(
            issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
            jwks_url=jwks_url, deployment_ids=list(dict.fromkeys(deployment_ids)),
            tenant=tenant or default_tenant(issuer), ags_token_url=ags_token_url,
            auth_token_aud=auth_token_aud,
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).replace("_", "-")
        raise click.UsageError(f"--{where}: {first['msg']}") from None
    PlatformRegistry(settings).register(platform)
    kid = ToolKey(settings).kid  # creates the tool key now, so its JWKS is stable
    if fmt == "json":
        click.echo(json.dumps({"platform": platform.model_dump(), "tool_kid": kid}))
        return
    click.echo(
        f"registered {platform.issuer} (client {platform.client_id}) -> tenant {platform.tenant}"
    )
    click.echo("Give the platform these tool URLs (replace the host with yours):")
    click.echo("  OIDC login URL:   https://YOUR-HOST/lti/login")
    click.echo("  Redirect/launch:  https://YOUR-HOST/lti/launch")
    click.echo("  Public JWKS URL:  https://YOUR-HOST/lti/jwks.json")
    click.echo("  Custom params:    passage_id=<id> (optional), grade=<1-12> (optional)")


@lti.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_platforms(fmt: str) -> None:
    """Registered platforms."""
    from readloom.api.lti.registry import PlatformRegistry

    items = PlatformRegistry(get_settings()).all()
    if fmt == "json":
        click.echo(json.dumps([p.model_dump() for p in items]))
        return
    for p in items:
        ags = "AGS" if p.ags_token_url else "no AGS"
        click.echo(
            f"{p.issuer}  client={p.client_id}  tenant={p.tenant}  deployments={','.join(p.deployment_ids)}  {ags}"
        )


@lti.command("remove")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
def remove_platform(issuer: str, client_id: str) -> None:
    """Forget a platform: its launches are refused from now on."""
    from readloom.api.lti.registry import PlatformRegistry
    from readloom.errors import ReadloomError

    try:
        PlatformRegistry(get_settings()).remove(issuer, client_id)
    except ReadloomError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"removed {issuer} (client {client_id})")


@lti.command("jwks")
def tool_jwks() -> None:
    """Print readloom's public JWKS (for platforms that take a keyset instead of a URL)."""
    from readloom.api.lti.toolkey import ToolKey

    click.echo(json.dumps(ToolKey(get_settings()).jwks(), indent=2))
