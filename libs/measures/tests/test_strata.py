"""Stratum text: canonical form, validation against a measure, roll-up."""

from __future__ import annotations

import pytest

from mhin_measures.strata import (
    ALL,
    ETHNICITY,
    STRATIFIERS,
    format_stratum,
    parse_stratum,
    rollup_strata,
    validate_stratifiers,
    validate_stratum,
)


def test_shipped_groups():
    assert list(STRATIFIERS) == ["sex", "age_band", "ethnicity", "deprivation_decile"]
    assert ETHNICITY.groups == ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
    assert STRATIFIERS["deprivation_decile"].groups[:10] == tuple(str(d) for d in range(1, 11))
    assert all(stratifier.groups[-1] == "Not stated" for stratifier in STRATIFIERS.values())


def test_whole_population():
    assert parse_stratum(ALL) == {}
    assert format_stratum({}) == ALL
    assert validate_stratum("", []) == ""


def test_parse_puts_pairs_in_canonical_order_and_spelling():
    assert parse_stratum("age_band=5-11|sex=f") == {"sex": "F", "age_band": "5-11"}
    assert list(parse_stratum("ethnicity=black|sex=M")) == ["sex", "ethnicity"]
    assert parse_stratum("ethnicity=not stated") == {"ethnicity": "Not stated"}


def test_format_is_canonical():
    assert format_stratum({"age_band": "5-11", "sex": "F"}) == "sex=F|age_band=5-11"
    assert format_stratum({"deprivation_decile": "10"}) == "deprivation_decile=10"


@pytest.mark.parametrize(
    ("stratum", "message"),
    [
        ("ethnicity", "'ethnicity' is not a 'stratifier=group' pair"),
        ("ethnicity=", "not a 'stratifier=group' pair"),
        ("=Black", "not a 'stratifier=group' pair"),
        ("sex=F|", "'' is not a 'stratifier=group' pair"),
        ("religion=None", "unknown stratifier 'religion'"),
        ("ethnicity=Purple", r"'Purple' is not a ethnicity group \(one of: Asian, Black"),
        ("deprivation_decile=11", "'11' is not a deprivation_decile group"),
        ("sex=F|sex=M", "stratifier 'sex' appears twice"),
    ],
)
def test_malformed_strata_are_rejected_saying_why(stratum, message):
    with pytest.raises(ValueError, match=message):
        parse_stratum(stratum)


def test_validate_against_the_measure_stratifiers():
    assert validate_stratum("age_band=12-17|sex=M", ["sex", "age_band", "ethnicity"]) == (
        "sex=M|age_band=12-17"
    )
    with pytest.raises(ValueError, match="not stratified by sex .its stratifiers: ethnicity"):
        validate_stratum("sex=F|ethnicity=White", ["ethnicity"])
    with pytest.raises(ValueError, match="its stratifiers: none"):
        validate_stratum("ethnicity=White", [])


def test_validate_stratifiers():
    assert validate_stratifiers(["ethnicity", "sex"]) == ("sex", "ethnicity")
    with pytest.raises(ValueError, match="unknown stratifier 'gender'"):
        validate_stratifiers(["gender"])
    with pytest.raises(ValueError, match="repeated"):
        validate_stratifiers(["sex", "sex"])


def test_rollup_strata_go_from_coarsest_to_the_stratum_itself():
    assert rollup_strata("") == ("",)
    assert rollup_strata("ethnicity=Black") == ("", "ethnicity=Black")
    assert rollup_strata("ethnicity=Black|sex=F") == (
        "",
        "sex=F",
        "ethnicity=Black",
        "sex=F|ethnicity=Black",
    )
    assert len(rollup_strata("sex=F|age_band=5-11|ethnicity=Asian")) == 8
