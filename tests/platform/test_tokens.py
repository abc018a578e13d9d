"""Bearer tokens signed asymmetrically: what a verifier accepts and every forgery it
refuses, with real Ed25519 keys, JWKS files and a JWKS served over HTTP on loopback."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from mhin_platform.auth import Principal, Role
from mhin_platform.errors import Unauthenticated
from mhin_platform.reference import Arc
from mhin_platform.tokens import (
    SigningKey,
    TokenVerifier,
    Trust,
    TrustedIssuer,
    issue_token,
    write_jwks,
)

GM, YH = Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER
NATIONAL = SigningKey.generate("mhin-national")
GM_ISSUER = SigningKey.generate("mhin-arc-greater-manchester", GM)


@pytest.fixture
def trust(tmp_path):
    """The national issuer and Greater Manchester's, as a service trusts them."""
    write_jwks(tmp_path / "national.jwks.json", [NATIONAL])
    write_jwks(tmp_path / "gm.jwks.json", [GM_ISSUER])
    Trust((TrustedIssuer(NATIONAL.issuer, "national.jwks.json"),
           TrustedIssuer(GM_ISSUER.issuer, "gm.jwks.json", GM))).save(tmp_path / "trust.json")
    return tmp_path / "trust.json"


@pytest.fixture
def verifier(trust):
    return TokenVerifier(Trust.load(trust), service_name="evaluation")


def forged(key: SigningKey, *, header: dict | None = None, **claims) -> str:
    """A token signed with ``key`` carrying exactly ``claims`` (defaults filled in)."""
    now = datetime.now(UTC)
    body = {"iss": key.issuer, "sub": "mallory", "aud": "mhin", "role": "viewer",
            "iat": now, "nbf": now, "exp": now + timedelta(hours=1), **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key.private_key, algorithm="EdDSA",
                      headers={"kid": key.kid, **(header or {})})


def test_a_national_token_names_its_principal(verifier):
    token = issue_token(NATIONAL, "ada", Role.NATIONAL_ADMIN)
    assert verifier.verify(token) == Principal("ada", Role.NATIONAL_ADMIN)
    member = issue_token(NATIONAL, "sam", "arc_member", "south-london")
    assert verifier.verify(member) == Principal("sam", Role.ARC_MEMBER, Arc.SOUTH_LONDON)


def test_an_arc_issuer_signs_its_own_members_and_viewers(verifier):
    token = issue_token(GM_ISSUER, "gail", Role.ARC_MEMBER, GM)
    assert verifier.verify(token) == Principal("gail", Role.ARC_MEMBER, GM)
    assert verifier.verify(issue_token(GM_ISSUER, "vi", Role.VIEWER, GM)).arc is GM


@pytest.mark.parametrize("claims", [
    {"role": "national_admin"},
    {"role": "national_admin", "arc": "GREATER_MANCHESTER"},
    {"role": "arc_member", "arc": "YORKSHIRE_AND_HUMBER"},
    {"role": "viewer", "arc": "YORKSHIRE_AND_HUMBER"},
    {"role": "viewer"},  # a viewer of no ARC sees what the nation shares: not its to sign
])
def test_an_arc_issuer_cannot_sign_beyond_its_arc(verifier, claims):
    with pytest.raises(Unauthenticated, match="signs only GREATER_MANCHESTER's members"):
        verifier.verify(forged(GM_ISSUER, **claims))


def test_an_arc_issuer_cannot_pass_for_the_national_one(verifier):
    """Its key under the national issuer's name: not a key the national issuer publishes."""
    token = forged(GM_ISSUER, iss=NATIONAL.issuer, role="national_admin")
    with pytest.raises(Unauthenticated, match="which issuer 'mhin-national' does not publish"):
        verifier.verify(token)
    with pytest.raises(Unauthenticated, match="bad signature"):  # and with its kid forged
        verifier.verify(forged(GM_ISSUER, iss=NATIONAL.issuer, header={"kid": NATIONAL.kid}))


def test_unsigned_and_symmetric_tokens_are_refused(verifier):
    claims = {"iss": NATIONAL.issuer, "sub": "m", "aud": "mhin", "role": "national_admin",
              "iat": 0, "nbf": 0, "exp": 2**40}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": NATIONAL.kid})
    with pytest.raises(Unauthenticated, match="signed with 'none'"):
        verifier.verify(unsigned)
    # The classic confusion: HS256 keyed with the issuer's public key, which anyone has.
    public = base64.urlsafe_b64decode(NATIONAL.public_jwk()["x"] + "=")
    hmac = jwt.encode(claims, public, algorithm="HS256", headers={"kid": NATIONAL.kid})
    with pytest.raises(Unauthenticated, match="signed with 'HS256'"):
        verifier.verify(hmac)


FIVE_MINUTES = timedelta(minutes=5)


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": -FIVE_MINUTES}, "has expired"),  # times: from now, when the test runs
    ({"nbf": FIVE_MINUTES}, "not valid yet"),
    ({"iat": FIVE_MINUTES}, "not valid yet"),
    ({"aud": "another-platform"}, "another audience"),
    ({"aud": None}, "lacks a required claim"),
    ({"nbf": None}, "lacks a required claim"),
    ({"iss": "somebody-else"}, "issuer 'somebody-else' is not trusted"),
])
def test_claims_are_checked(verifier, claims, reason):
    now = datetime.now(UTC)
    claims = {name: now + value if isinstance(value, timedelta) else value
              for name, value in claims.items()}
    with pytest.raises(Unauthenticated, match=reason):
        verifier.verify(forged(NATIONAL, **claims))


def test_a_small_clock_skew_is_tolerated(verifier):
    soon = datetime.now(UTC) + timedelta(seconds=10)
    assert verifier.verify(forged(NATIONAL, nbf=soon, iat=soon)).subject == "mallory"


def test_the_service_is_an_audience_too(verifier):
    assert verifier.verify(forged(NATIONAL, aud="evaluation")).subject == "mallory"
    with pytest.raises(Unauthenticated, match="another audience"):
        verifier.verify(forged(NATIONAL, aud="governance"))


def test_an_unknown_key_id_is_refused(verifier):
    with pytest.raises(Unauthenticated, match="key 'nobody', "):
        verifier.verify(forged(NATIONAL, header={"kid": "nobody"}))
    with pytest.raises(Unauthenticated, match="malformed"):
        verifier.verify("not-a-token")


def test_keys_rotate_without_a_restart(trust, verifier):
    successor = SigningKey.generate(NATIONAL.issuer)
    token = issue_token(successor, "ada", Role.NATIONAL_ADMIN)
    with pytest.raises(Unauthenticated, match="does not publish"):
        verifier.verify(token)
    write_jwks(trust.parent / "national.jwks.json", [NATIONAL, successor])  # published
    assert verifier.verify(token).subject == "ada"
    write_jwks(trust.parent / "national.jwks.json", [successor])  # the old one retired
    with pytest.raises(Unauthenticated, match="does not publish"):
        verifier.verify(issue_token(NATIONAL, "ada", Role.NATIONAL_ADMIN))


@pytest.fixture
def identity_provider():
    """An OIDC-style identity provider's JWKS endpoint on loopback; ``keys`` is what
    it publishes (change it to rotate)."""
    published = {"keys": [NATIONAL]}

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"keys": [k.public_jwk() for k in published["keys"]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", published
    server.shutdown()


def test_an_identity_providers_jwks_url_and_claim_names(tmp_path, identity_provider):
    url, published = identity_provider
    trust_file = tmp_path / "trust.json"
    Trust((TrustedIssuer("https://idp.example.org", url),),
          claims={"role": "mhin_role", "arc": "mhin_arc"}, refetch_cooldown=0).save(trust_file)
    verifier = TokenVerifier(Trust.load(trust_file))
    token = forged(NATIONAL, iss="https://idp.example.org", mhin_role="arc_member",
                   mhin_arc="greater-manchester", role=None)
    assert verifier.verify(token) == Principal("mallory", Role.ARC_MEMBER, GM)

    rotated = SigningKey.generate("https://idp.example.org")
    published["keys"] = [rotated]  # the provider rotates; the cached set lacks the new kid
    assert verifier.verify(forged(rotated, mhin_role="viewer", role=None)).subject == "mallory"


def test_a_trust_file_that_cannot_be_used_is_named(tmp_path):
    with pytest.raises(ValueError, match="is not a valid trust file"):
        Trust.load(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_text('{"issuers": []}')
    with pytest.raises(ValueError, match="trusts no issuer"):
        Trust.load(tmp_path / "empty.json")


def test_a_signing_key_round_trips_and_is_private(tmp_path):
    path = tmp_path / "gm.key.json"
    GM_ISSUER.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = SigningKey.load(path)
    assert (loaded.issuer, loaded.arc, loaded.kid) == (GM_ISSUER.issuer, GM, GM_ISSUER.kid)
