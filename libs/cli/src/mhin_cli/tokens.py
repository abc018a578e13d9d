"""``mhin token``: issue and inspect the bearer tokens services accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import jwt

from mhin_platform.auth import Role, issue_token, verify_token
from mhin_platform.errors import Unauthenticated
from mhin_platform.settings import ServiceSettings, SettingsError, load_settings


@click.group()
def token() -> None:
    """Issue and inspect bearer tokens (signed with MHIN_AUTH_SECRET)."""


@token.command()
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--arc", help="ARC code (e.g. SOUTH_LONDON), name or slug; needed for arc_member.")
@click.option("--subject", required=True, help="Who the token is for: a person or a system.")
@click.option(
    "--ttl-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=12.0,
    show_default=True,
    help="Hours until the token expires.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the token and its claims as JSON.")
def issue(role: str, arc: str | None, subject: str, ttl_hours: float, as_json: bool) -> None:
    """Print a signed bearer token naming SUBJECT, a role and an ARC."""
    secret = _auth_secret()
    try:
        signed = issue_token(secret, subject, role, arc, timedelta(hours=ttl_hours))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps({"token": signed, **_describe(signed)}) if as_json else signed)


@token.command()
@click.argument("token_text", metavar="TOKEN")
def inspect(token_text: str) -> None:
    """Verify TOKEN against MHIN_AUTH_SECRET; print whom it names and until when."""
    try:
        verify_token(_auth_secret(), token_text)
    except Unauthenticated as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(_describe(token_text), indent=2))


def _auth_secret() -> str:
    try:
        return load_settings(ServiceSettings).auth_secret.get_secret_value()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _describe(signed: str) -> dict[str, Any]:
    # Only called on a token this process just signed or verified.
    claims = jwt.decode(signed, options={"verify_signature": False})
    return {
        "subject": claims["sub"],
        "role": claims["role"],
        "arc": claims.get("arc"),
        "issued_at": _iso(claims["iat"]),
        "expires_at": _iso(claims["exp"]),
    }


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
