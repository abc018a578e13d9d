"""``mhin token``: issue and inspect the bearer tokens services accept."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import jwt

from mhin_platform.auth import Role
from mhin_platform.errors import Unauthenticated
from mhin_platform.reference import Arc
from mhin_platform.tokens import SigningKey, TokenVerifier, Trust, TrustedIssuer, issue_token


@click.group()
def token() -> None:
    """Issue bearer tokens with an issuer's key (MHIN_AUTH_SIGNING_KEY) and inspect them
    against a trust file (MHIN_AUTH_TRUST), as the services do."""


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
    """Print a bearer token naming SUBJECT, a role and an ARC, signed with the issuer's
    key in MHIN_AUTH_SIGNING_KEY (an ARC's issuer signs only its own members and viewers)."""
    key = _signing_key()
    try:
        signed = issue_token(key, subject, role, arc, timedelta(hours=ttl_hours))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps({"token": signed, **_describe(signed)}) if as_json else signed)


@token.command()
@click.argument("token_text", metavar="TOKEN")
def inspect(token_text: str) -> None:
    """Verify TOKEN against the trust file in MHIN_AUTH_TRUST; print whom it names,
    who issued it and until when."""
    try:
        TokenVerifier(Trust.load(_required("MHIN_AUTH_TRUST"))).verify(token_text)
    except (Unauthenticated, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(_describe(token_text), indent=2))


@token.command("new-issuer")
@click.argument("public_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--issuer", required=True, help="The issuer's name: the iss claim of its tokens.")
@click.option("--arc", help="Make an ARC's issuer, which signs only that ARC's members and "
                            "viewers (code, name or slug); without it, the national issuer.")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the private key (kept by whoever issues tokens).")
def new_issuer(public_dir: Path, issuer: str, arc: str | None, key_file: Path) -> None:
    """Make an issuer's signing key and publish its public key in PUBLIC_DIR (a JWKS and
    the trust file services read, MHIN_AUTH_TRUST). For an issuer PUBLIC_DIR already
    trusts, the new key is added beside the old ones: a rotation; retire an old key by
    removing it from the JWKS once its tokens have expired."""
    if key_file.exists():
        raise click.ClickException(f"{key_file} exists: a signing key is never overwritten")
    try:
        scope = Arc.parse(arc) if arc else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    key = SigningKey.generate(issuer, scope)
    key.save(key_file)
    trust_file = public_dir / "trust.json"
    trust = Trust.load(trust_file) if trust_file.exists() else None
    known = {entry.issuer: entry for entry in trust.issuers} if trust else {}
    entry = known.get(issuer) or TrustedIssuer(issuer, f"{issuer}.jwks.json", scope)
    if entry.arc is not scope:
        raise click.ClickException(f"{issuer} is trusted for {entry.arc or 'the nation'} already")
    jwks = public_dir / entry.jwks
    published = json.loads(jwks.read_text())["keys"] if jwks.exists() else []
    jwks.parent.mkdir(parents=True, exist_ok=True)
    jwks.write_text(json.dumps({"keys": [*published, key.public_jwk()]}, indent=2))
    issuers = tuple({**known, issuer: entry}.values())
    (Trust(issuers) if trust is None else dataclasses.replace(trust, issuers=issuers)
     ).save(trust_file)
    click.echo(f"issuer {issuer}: key {key.kid} in {key_file}; public key in {jwks}; "
               f"trusted by {trust_file}")


def _signing_key() -> SigningKey:
    try:
        return SigningKey.load(_required("MHIN_AUTH_SIGNING_KEY"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _required(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise click.ClickException(f"{variable} is not set (`make run` prints it)")
    return value


def _describe(signed: str) -> dict[str, Any]:
    # Only called on a token this process just signed or verified.
    claims = jwt.decode(signed, options={"verify_signature": False})
    return {
        "issuer": claims["iss"],
        "subject": claims["sub"],
        "role": claims["role"],
        "arc": claims.get("arc"),
        "issued_at": _iso(claims["iat"]),
        "expires_at": _iso(claims["exp"]),
    }


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
