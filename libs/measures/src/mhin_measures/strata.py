"""Strata: the population groups an observation or aggregate counts.

A stratum is text: ``""`` for the whole population, else ``stratifier=group`` pairs
joined by ``"|"``, in the order of :data:`STRATIFIERS` (sex, age band, ethnicity,
deprivation decile), e.g. ``"ethnicity=Black"`` or ``"sex=F|age_band=5-11"``. That
order and the group spellings below are canonical, so one stratum has one key.

Each stratifier ships its groups, with ``"Not stated"`` so that the groups of a
stratifier cover everyone and sum to the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

ALL = ""
"""The stratum of the whole population."""

NOT_STATED = "Not stated"

_PAIR_SEPARATOR = "|"
_NAME_SEPARATOR = "="


@dataclass(frozen=True)
class Stratifier:
    """A way of dividing a population, with its groups in display order."""

    name: str
    description: str
    groups: tuple[str, ...]

    def group(self, text: str) -> str:
        """The canonical spelling of group ``text`` (matched ignoring case);
        ValueError names the allowed groups otherwise."""
        for group in self.groups:
            if group.casefold() == text.strip().casefold():
                return group
        raise ValueError(f"{text!r} is not a {self.name} group (one of: {', '.join(self.groups)})")


SEX = Stratifier("sex", "Sex (F female, M male)", ("F", "M", NOT_STATED))

AGE_BAND = Stratifier(
    "age_band",
    "Age band in years at the start of the period (school phases, then adult bands)",
    ("0-4", "5-11", "12-17", "18-25", "26-44", "45-64", "65+", NOT_STATED),
)

ETHNICITY = Stratifier(
    "ethnicity",
    "ONS Census 2021 high-level ethnic group (England and Wales): Asian, Asian British "
    "or Asian Welsh; Black, Black British, Black Welsh, Caribbean or African; Mixed or "
    "Multiple ethnic groups; White; Other ethnic group",
    ("Asian", "Black", "Mixed", "White", "Other", NOT_STATED),
)

DEPRIVATION_DECILE = Stratifier(
    "deprivation_decile",
    "Index of Multiple Deprivation decile of the residence (1 = most deprived 10%)",
    (*(str(decile) for decile in range(1, 11)), NOT_STATED),
)

STRATIFIERS: dict[str, Stratifier] = {
    stratifier.name: stratifier for stratifier in (SEX, AGE_BAND, ETHNICITY, DEPRIVATION_DECILE)
}
"""The known stratifiers by name, in canonical order."""

_ORDER = {name: position for position, name in enumerate(STRATIFIERS)}


def parse_stratum(stratum: str) -> dict[str, str]:
    """The groups a stratum names, ``{stratifier: group}`` in canonical order
    (``{}`` for :data:`ALL`). Accepts any pair order and group case; ValueError says
    what is wrong (syntax, unknown stratifier or group, a stratifier twice)."""
    if not isinstance(stratum, str):
        raise ValueError(f"a stratum must be text, not {type(stratum).__name__}")
    if stratum == ALL:
        return {}
    groups: dict[str, str] = {}
    for pair in stratum.split(_PAIR_SEPARATOR):
        name, separator, group = pair.partition(_NAME_SEPARATOR)
        name = name.strip()
        if not separator or not name or not group.strip():
            raise ValueError(
                f"{stratum!r}: {pair!r} is not a 'stratifier=group' pair "
                "(pairs are joined by '|', e.g. 'sex=F|age_band=5-11')"
            )
        stratifier = STRATIFIERS.get(name)
        if stratifier is None:
            raise ValueError(
                f"{stratum!r}: unknown stratifier {name!r} (one of: {', '.join(STRATIFIERS)})"
            )
        if name in groups:
            raise ValueError(f"{stratum!r}: stratifier {name!r} appears twice")
        groups[name] = stratifier.group(group)
    return dict(sorted(groups.items(), key=lambda item: _ORDER[item[0]]))


def format_stratum(groups: Mapping[str, str]) -> str:
    """The canonical stratum text for ``{stratifier: group}`` (any order, any case);
    ValueError for an unknown stratifier or group."""
    text = _PAIR_SEPARATOR.join(f"{name}{_NAME_SEPARATOR}{group}" for name, group in groups.items())
    return _format(parse_stratum(text))


def validate_stratum(stratum: str, stratifiers: Sequence[str]) -> str:
    """The canonical form of ``stratum`` for a measure stratified by ``stratifiers``
    (stratifier names); ValueError if it is malformed or uses a stratifier the
    measure does not have."""
    groups = parse_stratum(stratum)
    unexpected = [name for name in groups if name not in stratifiers]
    if unexpected:
        allowed = ", ".join(stratifiers) if stratifiers else "none: only the whole population ''"
        raise ValueError(
            f"{stratum!r}: the measure is not stratified by {', '.join(unexpected)} "
            f"(its stratifiers: {allowed})"
        )
    return _format(groups)


def validate_stratifiers(names: Sequence[str]) -> tuple[str, ...]:
    """A measure's stratifier names in canonical order; ValueError for an unknown or
    repeated name."""
    unknown = [name for name in names if name not in STRATIFIERS]
    if unknown:
        raise ValueError(
            f"unknown stratifier {', '.join(map(repr, unknown))} (one of: {', '.join(STRATIFIERS)})"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"a stratifier is repeated in {list(names)}")
    return tuple(sorted(names, key=_ORDER.__getitem__))


def rollup_strata(stratum: str) -> tuple[str, ...]:
    """The strata a value of ``stratum`` counts towards when strata are rolled up:
    ``stratum`` itself and every stratum made of some of its pairs, down to
    :data:`ALL`, coarsest first. ``"sex=F|ethnicity=Black"`` counts towards ``""``,
    ``"sex=F"``, ``"ethnicity=Black"`` and itself."""
    pairs = list(parse_stratum(stratum).items())
    return tuple(
        _format(dict(subset))
        for size in range(len(pairs) + 1)
        for subset in combinations(pairs, size)
    )


def _format(groups: Mapping[str, str]) -> str:
    return _PAIR_SEPARATOR.join(f"{name}{_NAME_SEPARATOR}{group}" for name, group in groups.items())
