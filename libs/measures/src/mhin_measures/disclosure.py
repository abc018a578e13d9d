"""Small-number suppression (statistical disclosure control) and who sees what.

The rule, following NHS statistical disclosure practice (e.g. NHS England's
publication of HES and Mental Health Services Data Set statistics, which suppress
small non-zero counts and any figure that would let them be derived):

- A count from 1 to ``threshold - 1`` (1-4 by default) is suppressed.
- Zero is shown. It identifies no one, and hiding it would hide real absences
  (no restraint incidents this month) and every 100% proportion; the threshold is
  configurable where a stricter rule is wanted.
- Which figures are counts of people or events depends on the measure type:
  the numerator of COUNT, PROPORTION and RATIO; the denominator of PROPORTION and
  MEAN (people, cases). A RATIO's denominator is an exposure (population, bed days)
  and a MEAN's numerator a sum of values: they are not suppressed for their own size.
- Anything built on a suppressed count is suppressed too: the value (rate, mean)
  and, for a MEAN over few cases, its sum of values.
- For a PROPORTION, the complement (denominator - numerator) is a count as well:
  "47 of 50" discloses the 3 who were not. A small complement suppresses the
  numerator and the value, leaving the denominator shown.

Suppressed figures are marked as such (``None`` with a ``*_suppressed`` flag),
never turned into zero or dropped. This module judges one figure at a time; the
further figures to withhold so that a suppressed one cannot be recovered by
subtraction (a breakdown's total minus its other groups, a project minus its ARCs)
are chosen by :mod:`mhin_measures.complementary`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mhin_measures.rates import MeasureType, value

DEFAULT_THRESHOLD = 5
"""Counts below this (1-4) are suppressed."""


@dataclass(frozen=True)
class Disclosed:
    """A measure's figures as they may be shown. A suppressed figure is None with its
    flag set; ``value`` is also None, unflagged, when it is undefined (zero
    denominator), and ``denominator`` when the measure has none (COUNT)."""

    numerator: float | None
    denominator: float | None
    value: float | None
    numerator_suppressed: bool = False
    denominator_suppressed: bool = False
    value_suppressed: bool = False
    numerator_secondary: bool = False
    """The numerator is withheld only so that a small count elsewhere cannot be derived
    from it (complementary suppression, :mod:`mhin_measures.complementary`)."""
    denominator_secondary: bool = False
    """The same for the denominator."""

    @property
    def suppressed(self) -> bool:
        """True when any figure is withheld (what a single flag, like
        ``AggregateUpdated.suppressed``, must carry)."""
        return self.numerator_suppressed or self.denominator_suppressed or self.value_suppressed

    @property
    def value_secondary(self) -> bool:
        """The value is withheld, and only because of figures withheld for secondary
        reasons: none of the aggregate's own counts is small."""
        primary = ((self.numerator_suppressed and not self.numerator_secondary)
                   or (self.denominator_suppressed and not self.denominator_secondary))
        return self.value_suppressed and not primary


def is_small(count: float, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether ``count`` must be suppressed: above zero and below ``threshold``."""
    return 0 < count < threshold


def disclose(
    measure_type: MeasureType,
    numerator: float,
    denominator: float | None,
    multiplier: float = 1.0,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    in_full: bool = False,
) -> Disclosed:
    """The figures of one observation or aggregate with small numbers suppressed by
    the rule above; ``in_full=True`` (a caller who may see everything, see
    :func:`visible_to`) returns them all unsuppressed."""
    kind = MeasureType(measure_type)
    shown_denominator = None if kind is MeasureType.COUNT else denominator
    computed = value(kind, numerator, denominator, multiplier)
    if in_full:
        return Disclosed(numerator, shown_denominator, computed)
    hide_denominator = kind in _DENOMINATOR_COUNTS_PEOPLE and is_small(denominator or 0, threshold)
    hide_numerator = (
        (kind in _NUMERATOR_COUNTS and is_small(numerator, threshold))
        or (kind is MeasureType.MEAN and hide_denominator)
        or (kind is MeasureType.PROPORTION and is_small((denominator or 0) - numerator, threshold))
    )
    return withheld(numerator, shown_denominator, computed,
                    hide_numerator=hide_numerator, hide_denominator=hide_denominator)


def withheld(numerator: float, denominator: float | None, computed: float | None, *,
             hide_numerator: bool, hide_denominator: bool,
             numerator_secondary: bool = False,
             denominator_secondary: bool = False) -> Disclosed:
    """The figures with the hidden ones absent and flagged; the value is hidden with
    any figure it is built on."""
    hide_value = (hide_numerator or hide_denominator) and computed is not None
    return Disclosed(
        numerator=None if hide_numerator else numerator,
        denominator=None if hide_denominator else denominator,
        value=None if hide_value else computed,
        numerator_suppressed=hide_numerator,
        denominator_suppressed=hide_denominator,
        value_suppressed=hide_value,
        numerator_secondary=numerator_secondary,
        denominator_secondary=denominator_secondary,
    )


def visible_to(owner_arc: str | None, caller_arc: str | None, caller_is_national: bool) -> bool:
    """Whether a caller sees data owned by ``owner_arc`` in full (else suppressed).

    The owning ARC sees its own data in full, and so does a national caller, who may
    already write (and so read) any ARC's observations (``mhin_platform.auth``
    lets national admins write every ARC's data). Everyone else, including anyone
    looking at data with no single owner (project and national aggregates,
    ``owner_arc`` "" or None), gets suppressed figures. ARCs are compared as given:
    pass the same kind of value for both (e.g. the code ``"GREATER_MANCHESTER"``).
    """
    if caller_is_national:
        return True
    return bool(owner_arc) and owner_arc == caller_arc


_NUMERATOR_COUNTS = frozenset({MeasureType.COUNT, MeasureType.PROPORTION, MeasureType.RATIO})
_DENOMINATOR_COUNTS_PEOPLE = frozenset({MeasureType.PROPORTION, MeasureType.MEAN})
