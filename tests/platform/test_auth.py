"""Bearer tokens and the write rule, without any I/O."""

from contextvars import copy_context
from datetime import timedelta

import jwt
import pytest

from mhin_platform.auth import (
    Principal,
    Role,
    arcs_with_own_instance_var,
    can_write_arc,
    issue_token,
    require_write,
    verify_token,
)
from mhin_platform.errors import PermissionDenied, Unauthenticated
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings, SettingsError, load_settings

SECRET = "test-secret-with-at-least-32-bytes!!"


def test_issued_token_verifies_to_the_same_principal():
    token = issue_token(SECRET, "alice", Role.ARC_MEMBER, Arc.SOUTH_LONDON)

    assert verify_token(SECRET, token) == Principal("alice", Role.ARC_MEMBER, Arc.SOUTH_LONDON)


def test_token_names_the_arc_by_its_code():
    token = issue_token(SECRET, "alice", "arc_member", "south-london")

    assert jwt.decode(token, SECRET, algorithms=["HS256"])["arc"] == "SOUTH_LONDON"


def test_token_carries_issuer_issued_at_and_expiry():
    claims = jwt.decode(issue_token(SECRET, "bob", "viewer"), SECRET, algorithms=["HS256"])

    assert claims["iss"] == "mhin"
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_expired_token_is_rejected():
    token = issue_token(SECRET, "alice", Role.VIEWER, ttl=timedelta(seconds=-1))

    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, token)


def test_tampered_token_is_rejected():
    header, payload, signature = issue_token(SECRET, "alice", Role.VIEWER).split(".")
    forged = jwt.encode({"sub": "alice", "role": "national_admin"}, "x" * 32).split(".")[1]

    with pytest.raises(Unauthenticated, match="bad signature"):
        verify_token(SECRET, f"{header}.{forged}.{signature}")


def test_token_signed_with_another_secret_is_rejected():
    token = issue_token("another-secret-of-at-least-32-bytes", "alice", Role.NATIONAL_ADMIN)

    with pytest.raises(Unauthenticated, match="bad signature"):
        verify_token(SECRET, token)


def test_malformed_token_is_rejected():
    with pytest.raises(Unauthenticated, match="malformed"):
        verify_token(SECRET, "not-a-token")


def test_token_from_another_issuer_is_rejected():
    token = jwt.encode({"iss": "elsewhere", "sub": "a", "iat": 0, "exp": 2**40}, SECRET)

    with pytest.raises(Unauthenticated, match="not issued by 'mhin'"):
        verify_token(SECRET, token)


def test_arc_member_needs_an_arc():
    with pytest.raises(ValueError, match="needs an ARC"):
        issue_token(SECRET, "alice", Role.ARC_MEMBER)


def test_unknown_arc_is_rejected():
    with pytest.raises(ValueError, match="'atlantis' is not one of"):
        issue_token(SECRET, "alice", Role.ARC_MEMBER, "atlantis")


ADMIN = Principal("ada", Role.NATIONAL_ADMIN)
SOUTH_LONDON_MEMBER = Principal("sam", Role.ARC_MEMBER, Arc.SOUTH_LONDON)
VIEWER = Principal("vic", Role.VIEWER, Arc.SOUTH_LONDON)


@pytest.mark.parametrize(
    ("principal", "arc", "allowed"),
    [
        (ADMIN, Arc.SOUTH_LONDON, True),
        (ADMIN, Arc.WESSEX, True),
        (SOUTH_LONDON_MEMBER, Arc.SOUTH_LONDON, True),
        (SOUTH_LONDON_MEMBER, Arc.WESSEX, False),
        (VIEWER, Arc.SOUTH_LONDON, False),
        (VIEWER, Arc.WESSEX, False),
    ],
)
def test_who_may_write_which_arc(principal, arc, allowed):
    assert can_write_arc(principal, arc) is allowed


def test_require_write_names_the_arc():
    with pytest.raises(PermissionDenied, match="ARC WESSEX"):
        require_write(SOUTH_LONDON_MEMBER, Arc.WESSEX)


def on_a_national_instance(arcs_with_own_instance: frozenset[Arc], check) -> None:
    """Run ``check`` as a call served by a national instance whose list of ARCs with
    their own instance is ``arcs_with_own_instance``."""
    def call() -> None:
        arcs_with_own_instance_var.set(arcs_with_own_instance)
        check()

    copy_context().run(call)


def test_a_national_instance_refuses_the_data_of_an_arc_with_its_own_instance():
    own = frozenset({Arc.SOUTH_LONDON})

    def check() -> None:
        for principal in (ADMIN, SOUTH_LONDON_MEMBER):  # whoever sends it
            with pytest.raises(PermissionDenied,
                               match="SOUTH_LONDON runs its own instance, which takes its data"):
                require_write(principal, Arc.SOUTH_LONDON)
        require_write(ADMIN, Arc.WESSEX)  # an ARC without one still writes here

    on_a_national_instance(own, check)
    require_write(ADMIN, Arc.SOUTH_LONDON)  # a national instance listing none


def test_the_arcs_with_their_own_instance_are_read_by_name(monkeypatch):
    monkeypatch.setenv("MHIN_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MHIN_ARCS_WITH_OWN_INSTANCE", "greater-manchester, YORKSHIRE_AND_HUMBER")
    assert load_settings(ServiceSettings).arcs_with_own_instance == {
        Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER}
    monkeypatch.setenv("MHIN_ARCS_WITH_OWN_INSTANCE", "greater-manchester,atlantis")
    with pytest.raises(SettingsError, match="MHIN_ARCS_WITH_OWN_INSTANCE: .*'atlantis'"):
        load_settings(ServiceSettings)
    monkeypatch.delenv("MHIN_ARCS_WITH_OWN_INSTANCE")
    assert load_settings(ServiceSettings).arcs_with_own_instance == frozenset()
