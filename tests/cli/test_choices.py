"""The CLI's enum words and reference values: what a user types maps to the value the
service receives, and back, for every value; a word it does not know names the option."""

from __future__ import annotations

import click
import pytest

from mhin.common.v1 import arc_pb2
from mhin.governance.v1 import governance_pb2
from mhin.projects.v1 import project_pb2
from mhin_cli.choices import enum_number, enum_word, enum_words, reference_number
from mhin_platform.reference import Arc


def test_words_leave_out_the_unspecified_zero_and_drop_the_prefix():
    assert enum_words(project_pb2.Phase) == ["set_up", "implementation", "sustainment", "closed"]
    assert enum_words(governance_pb2.MemberRole, "-") == [
        "chair", "deputy-chair", "member", "expert-by-experience", "observer"]


@pytest.mark.parametrize("separator", ["_", "-"])
@pytest.mark.parametrize("enum", [project_pb2.Phase, project_pb2.Rag,
                                  governance_pb2.MemberRole, governance_pb2.InvolvementKind])
def test_every_word_names_its_value_and_shows_as_itself(enum, separator):
    numbers = [enum.Value(name) for name in enum.keys()[1:]]
    words = enum_words(enum, separator)
    assert [enum_number(enum, word, separator) for word in words] == numbers
    assert [enum_word(enum, number, separator) for number in numbers] == words


def test_hyphenated_words_keep_underscores_out():
    words = enum_words(governance_pb2.InvolvementKind, "-")
    assert all("_" not in word for word in words)
    assert any("-" in word for word in words)


def test_no_word_is_the_unspecified_zero_and_shows_as_a_dash():
    assert enum_number(project_pb2.Phase, None) == project_pb2.PHASE_UNSPECIFIED
    assert enum_number(project_pb2.Phase, "") == project_pb2.PHASE_UNSPECIFIED
    assert enum_word(project_pb2.Phase, project_pb2.PHASE_UNSPECIFIED) == "-"


def test_a_reference_value_is_read_by_code_name_or_slug():
    by_name = reference_number(Arc.parse, arc_pb2.Arc, "--arc", "Greater Manchester")
    assert by_name == arc_pb2.ARC_GREATER_MANCHESTER
    assert reference_number(Arc.parse, arc_pb2.Arc, "--arc", "greater-manchester") == by_name
    assert reference_number(Arc.parse, arc_pb2.Arc, "--arc", None) == arc_pb2.ARC_UNSPECIFIED


def test_an_unknown_reference_value_is_a_bad_value_of_its_option():
    with pytest.raises(click.BadParameter) as raised:
        reference_number(Arc.parse, arc_pb2.Arc, "--site", "Atlantis")
    assert raised.value.param_hint == "--site"
    assert "Atlantis" in raised.value.format_message()
