"""The write rules, without any I/O (tokens: test_tokens.py)."""

from contextvars import copy_context

import pytest

from mhin_devkit.harness import trust_file_for_tests
from mhin_platform.auth import (
    Principal,
    Role,
    arcs_with_own_instance_var,
    can_write_arc,
    require_write,
)
from mhin_platform.errors import PermissionDenied
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings, SettingsError, load_settings

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
    monkeypatch.setenv("MHIN_AUTH_TRUST", str(trust_file_for_tests()))
    monkeypatch.setenv("MHIN_ARCS_WITH_OWN_INSTANCE", "greater-manchester, YORKSHIRE_AND_HUMBER")
    assert load_settings(ServiceSettings).arcs_with_own_instance == {
        Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER}
    monkeypatch.setenv("MHIN_ARCS_WITH_OWN_INSTANCE", "greater-manchester,atlantis")
    with pytest.raises(SettingsError, match="MHIN_ARCS_WITH_OWN_INSTANCE: .*'atlantis'"):
        load_settings(ServiceSettings)
    monkeypatch.delenv("MHIN_ARCS_WITH_OWN_INSTANCE")
    assert load_settings(ServiceSettings).arcs_with_own_instance == frozenset()
