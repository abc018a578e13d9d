"""Bearer tokens signed asymmetrically, and the trust that decides whose are accepted.

An issuer signs tokens with its Ed25519 private key (EdDSA JWTs whose header names the
key by ``kid``); services hold only public keys, as JWKS documents (a file, re-read
when it changes, or a URL, refetched when a token names a key it does not list), so
keys rotate without a restart. The trust file says which issuers a service accepts:
the national issuer may sign any role for any ARC; an ARC's issuer only that ARC's
members and viewers, so whoever runs one ARC's instance cannot sign for the nation or
for another ARC. Every token must carry ``iss``, ``sub``, ``aud``, ``exp``, ``nbf`` and
``iat``; its audience must be the platform or the service.

The trust file (``MHIN_AUTH_TRUST``) is JSON::

    {"audience": "mhin",
     "claims": {"role": "role", "arc": "arc"},
     "issuers": [{"issuer": "mhin-national", "jwks": "national.jwks.json"},
                 {"issuer": "mhin-arc-greater-manchester", "arc": "GREATER_MANCHESTER",
                  "jwks": "https://idp.example.org/gm/jwks.json"}]}

``jwks`` is a path (relative to the trust file) or an http(s) URL; ``claims`` maps the
platform's role and ARC claims to an identity provider's claim names (optional);
``refetch_cooldown`` (seconds, default 30) limits how often a token naming an unknown
key makes a JWKS URL be fetched again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mhin_platform.auth import Principal, Role
from mhin_platform.errors import Unauthenticated
from mhin_platform.reference import Arc

ALGORITHM = "EdDSA"
PLATFORM_AUDIENCE = "mhin"
DEFAULT_TTL = timedelta(hours=12)
CLOCK_SKEW = timedelta(seconds=30)
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat")
JWKS_FETCH_TIMEOUT_SECONDS = 5


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ----------------------------------------------------------------------- signing


@dataclass(frozen=True)
class SigningKey:
    """An issuer's private key: the national issuer's (``arc`` None) or one ARC's."""

    issuer: str
    private_key: Ed25519PrivateKey = field(repr=False)
    arc: Arc | None = None

    @classmethod
    def generate(cls, issuer: str, arc: Arc | None = None) -> SigningKey:
        return cls(issuer, Ed25519PrivateKey.generate(), arc)

    @classmethod
    def from_seed(cls, issuer: str, seed: bytes, arc: Arc | None = None) -> SigningKey:
        """A key derived from ``seed`` (tests only: anyone with the seed can sign)."""
        return cls(issuer, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()),
                   arc)

    @property
    def _public_bytes(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def kid(self) -> str:
        """The key's id: its RFC 7638 JWK thumbprint, so the same key has one id."""
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64(self._public_bytes)},
                               separators=(",", ":"), sort_keys=True)
        return _b64(hashlib.sha256(canonical.encode()).digest())

    def public_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(self._public_bytes),
                "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def to_json(self) -> str:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        private = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return json.dumps({"issuer": self.issuer, "arc": self.arc.name if self.arc else None,
                           "d": _b64(private)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SigningKey:
        data = json.loads(text)
        return cls(data["issuer"], Ed25519PrivateKey.from_private_bytes(_unb64(data["d"])),
                   Arc[data["arc"]] if data.get("arc") else None)

    @classmethod
    def load(cls, path: Path | str) -> SigningKey:
        try:
            return cls.from_json(Path(path).read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path} is not an MHIN signing key: {exc}") from None

    def save(self, path: Path) -> None:
        """Write the key readable by its owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(self.to_json())


def issue_token(key: SigningKey, subject: str, role: Role | str, arc: Arc | str | None = None,
                ttl: timedelta = DEFAULT_TTL, audience: str = PLATFORM_AUDIENCE) -> str:
    """Sign a token for ``subject``; ``arc`` may be a code, name or slug. Raises
    ValueError for an invalid principal or one outside the key's issuer's scope."""
    principal = Principal(subject, Role(role), None if arc is None else Arc.parse(arc))
    _check_scope(key.issuer, key.arc, principal, ValueError)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"iss": key.issuer, "sub": principal.subject, "aud": audience,
                              "role": principal.role.value, "iat": now, "nbf": now,
                              "exp": now + ttl}
    if principal.arc is not None:
        claims["arc"] = principal.arc.name
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def _check_scope(issuer: str, arc: Arc | None, principal: Principal,
                 error: type[Exception]) -> None:
    """An ARC's issuer signs only that ARC's members and viewers."""
    if arc is None:
        return
    if principal.role is Role.NATIONAL_ADMIN or principal.arc is not arc:
        claimed = principal.role.value + (f" of {principal.arc.name}" if principal.arc else "")
        raise error(f"issuer {issuer!r} signs only {arc.name}'s members and viewers, "
                    f"not a {claimed}")


# --------------------------------------------------------------------- verifying


def write_jwks(path: Path, keys: Collection[SigningKey]) -> None:
    """The public half of ``keys`` as a JWKS document (replaced whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(path.suffix + ".new")
    staging.write_text(json.dumps({"keys": [key.public_jwk() for key in keys]}, indent=2))
    staging.replace(path)


def publish_issuers(folder: Path, keys: Collection[SigningKey]) -> Path:
    """What services need to trust ``keys``: each issuer's public key as a JWKS in
    ``folder`` and the trust file naming them all (written whole); its path."""
    for key in keys:
        write_jwks(folder / f"{key.issuer}.jwks.json", [key])
    trust_file = folder / "trust.json"
    staging = folder / f"trust.{os.getpid()}.json"
    Trust(tuple(TrustedIssuer(key.issuer, f"{key.issuer}.jwks.json", key.arc)
                for key in keys)).save(staging)
    staging.replace(trust_file)
    return trust_file


class _JwksFile:
    """Public keys from a JWKS file, re-read whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    def key(self, kid: str) -> jwt.PyJWK | None:
        try:
            status = self._path.stat()
        except OSError as exc:
            raise Unauthenticated(f"the issuer's keys cannot be read: {exc}") from None
        with self._lock:
            if self._stamp != (status.st_mtime_ns, status.st_size):
                self._keys = _parse_jwks(self._path.read_text(), str(self._path))
                self._stamp = (status.st_mtime_ns, status.st_size)
            return self._keys.get(kid)


class _JwksUrl:
    """Public keys from an identity provider's JWKS URL, cached and refetched when a
    token names a key the cached set lacks (a rotation)."""

    def __init__(self, url: str, refetch_cooldown: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300,
                                       timeout=JWKS_FETCH_TIMEOUT_SECONDS,
                                       cooldown_duration=refetch_cooldown)
        self._url = url

    def key(self, kid: str) -> jwt.PyJWK | None:
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthenticated(f"the keys at {self._url} cannot be fetched: {exc}") from None
        except jwt.PyJWKClientError:
            return None


def _parse_jwks(text: str, where: str) -> dict[str, jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_json(text).keys
    except (jwt.PyJWKSetError, ValueError) as exc:
        raise Unauthenticated(f"{where} is not a valid JWKS document: {exc}") from None
    return {key.key_id: key for key in keys if key.key_id}


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens are accepted, where its public keys are, and its scope."""

    issuer: str
    jwks: str
    arc: Arc | None = None

    def source(self, base: Path, refetch_cooldown: float) -> _JwksFile | _JwksUrl:
        if self.jwks.startswith(("https://", "http://")):
            return _JwksUrl(self.jwks, refetch_cooldown)
        return _JwksFile((base / self.jwks).resolve())


@dataclass(frozen=True)
class Trust:
    """Which issuers a service trusts, what audience tokens must name, and the names
    of the role and ARC claims."""

    issuers: tuple[TrustedIssuer, ...]
    audience: str = PLATFORM_AUDIENCE
    claims: Mapping[str, str] = field(default_factory=lambda: {"role": "role", "arc": "arc"})
    # A token naming a key a JWKS URL did not list refetches it, at most this often (s).
    refetch_cooldown: float = 30.0
    base: Path = Path(".")

    @classmethod
    def load(cls, path: Path | str) -> Trust:
        """Read a trust file; ValueError says what is wrong with it."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            issuers = tuple(
                TrustedIssuer(entry["issuer"], entry["jwks"],
                              Arc.parse(entry["arc"]) if entry.get("arc") else None)
                for entry in data["issuers"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a valid trust file: {exc!r}") from None
        if not issuers:
            raise ValueError(f"{path} trusts no issuer")
        claims = {"role": "role", "arc": "arc", **data.get("claims", {})}
        return cls(issuers, data.get("audience", PLATFORM_AUDIENCE), claims,
                   float(data.get("refetch_cooldown", 30.0)), path.parent)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "audience": self.audience, "claims": dict(self.claims),
            "refetch_cooldown": self.refetch_cooldown,
            "issuers": [{"issuer": entry.issuer, "jwks": entry.jwks,
                         **({"arc": entry.arc.name} if entry.arc else {})}
                        for entry in self.issuers]}, indent=2))


# Checked in order: the more specific errors first (most are DecodeErrors).
_REJECTIONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "has expired"),
    (jwt.ImmatureSignatureError, "is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "is for another audience"),
    (jwt.MissingRequiredClaimError, "lacks a required claim"),
    (jwt.InvalidSignatureError, "has a bad signature"),
    (jwt.InvalidIssuerError, "names another issuer"),
    (jwt.DecodeError, "is malformed"),
)


class TokenVerifier:
    """Verifies bearer tokens against a :class:`Trust`; a service's audiences are the
    platform's and its own name."""

    def __init__(self, trust: Trust, service_name: str | None = None) -> None:
        self._trust = trust
        self._audiences = [trust.audience] + ([service_name] if service_name else [])
        self._issuers = {entry.issuer: (entry, entry.source(trust.base, trust.refetch_cooldown))
                         for entry in trust.issuers}

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names; Unauthenticated saying what is wrong."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise Unauthenticated("bearer token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"bearer token is signed with {header.get('alg')!r}; "
                                  f"only {ALGORITHM} tokens are accepted")
        issuer, keys = self._issuer(unverified.get("iss"))
        kid = header.get("kid")
        key = keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated(f"bearer token is signed with key {kid!r}, which issuer "
                                  f"{issuer.issuer!r} does not publish")
        claims = self._decode(token, key, issuer.issuer)
        principal = self._principal(claims)
        _check_scope(issuer.issuer, issuer.arc, principal, Unauthenticated)
        return principal

    def _issuer(self, name: object) -> tuple[TrustedIssuer, _JwksFile | _JwksUrl]:
        found = self._issuers.get(name) if isinstance(name, str) else None
        if found is None:
            raise Unauthenticated(f"bearer token's issuer {name!r} is not trusted here")
        return found

    def _decode(self, token: str, key: jwt.PyJWK, issuer: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, key, algorithms=[ALGORITHM], audience=self._audiences,
                              issuer=issuer, leeway=CLOCK_SKEW,
                              options={"require": list(REQUIRED_CLAIMS)})
        except jwt.InvalidTokenError as exc:
            reason = next((text for kind, text in _REJECTIONS if isinstance(exc, kind)),
                          "is invalid")
            raise Unauthenticated(f"bearer token {reason}: {exc}") from None

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        names = self._trust.claims
        arc = claims.get(names["arc"])
        try:
            return Principal(claims["sub"], Role(claims.get(names["role"], "")),
                             Arc.parse(arc) if arc else None)
        except ValueError as exc:
            raise Unauthenticated(f"bearer token names an invalid principal: {exc}") from None
