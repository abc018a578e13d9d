"""The local platform's token issuers (`make run`): the national issuer, and one per
ARC that runs its own instances, each with a private key made once under
``.cache/run/auth/`` (readable by its owner only). What services may see, the issuers'
public keys as JWKS and the trust file naming them, goes to ``.cache/run/auth/public/``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mhin_devkit.kafka_broker import cache_dir
from mhin_platform.reference import Arc
from mhin_platform.tokens import SigningKey, publish_issuers

NATIONAL_ISSUER = "mhin-national"


def auth_dir() -> Path:
    return cache_dir().parent / "run" / "auth"


def public_dir() -> Path:
    return auth_dir() / "public"


def issuer_name(arc: Arc | None) -> str:
    return NATIONAL_ISSUER if arc is None else "mhin-arc-" + arc.name.lower().replace("_", "-")


def signing_key_path(arc: Arc | None = None) -> Path:
    return auth_dir() / f"{issuer_name(arc)}.key.json"


def signing_key(arc: Arc | None = None) -> SigningKey:
    """The issuer's key, made the first time it is asked for."""
    path = signing_key_path(arc)
    if not path.exists():
        SigningKey.generate(issuer_name(arc), arc).save(path)
    return SigningKey.load(path)


def ensure_local_auth(arcs: Iterable[Arc] = ()) -> Path:
    """Keys and JWKS for the national issuer and ``arcs``' issuers, and the trust file
    naming them (written afresh); returns the trust file's path."""
    return publish_issuers(public_dir(), [signing_key(None), *map(signing_key, arcs)])
