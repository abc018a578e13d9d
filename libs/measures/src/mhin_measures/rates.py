"""A measure's value from its numerator and denominator, and what an observation's
numbers must satisfy.

Aggregates sum numerators and denominators first and compute the value from the
sums (:func:`value`); averaging rates would weight a site of 10 people like a site
of 10,000.
"""

from __future__ import annotations

import math
from enum import StrEnum


class MeasureType(StrEnum):
    """How a value is computed; names equal ``mhin.evaluation.v1.MeasureType`` suffixes."""

    COUNT = "count"
    """value = numerator; there is no denominator."""
    PROPORTION = "proportion"
    """value = numerator / denominator x multiplier; numerator <= denominator."""
    RATIO = "ratio"
    """value = numerator / denominator x multiplier (e.g. per 100,000 population)."""
    MEAN = "mean"
    """value = numerator (sum of values) / denominator (cases) x multiplier."""


class InvalidObservation(ValueError):
    """An observation's numbers break its measure's rules; ``field`` names the
    number at fault (``"numerator"``, ``"denominator"`` or ``"multiplier"``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def value(
    measure_type: MeasureType,
    numerator: float,
    denominator: float | None,
    multiplier: float = 1.0,
) -> float | None:
    """The measure's value, or None when undefined (a rate over a zero or missing
    denominator). A COUNT is its numerator; the multiplier does not apply to it."""
    if MeasureType(measure_type) is MeasureType.COUNT:
        return float(numerator)
    if not denominator:
        return None
    return numerator / denominator * multiplier


def validate_observation(
    measure_type: MeasureType, numerator: float, denominator: float | None
) -> None:
    """Raise :class:`InvalidObservation` unless the numbers suit ``measure_type``:

    - both finite and not negative;
    - COUNT: no denominator (None or 0);
    - PROPORTION, RATIO, MEAN: a denominator (0 is allowed: nothing to count this
      period; the value is then undefined, see :func:`value`);
    - PROPORTION: numerator <= denominator;
    - counts of people or events are whole numbers: the numerator of COUNT,
      PROPORTION and RATIO, the denominator of PROPORTION and MEAN (a RATIO's
      denominator may be an exposure such as person-years, a MEAN's numerator a sum
      of scores or hours).
    """
    kind = MeasureType(measure_type)
    _check_number("numerator", numerator, whole=kind is not MeasureType.MEAN)
    if kind is MeasureType.COUNT:
        if denominator:
            raise InvalidObservation("denominator", "must be absent or 0 for a count measure")
        return
    if denominator is None:
        raise InvalidObservation("denominator", f"is required for a {kind} measure")
    _check_number("denominator", denominator, whole=kind is not MeasureType.RATIO)
    if kind is MeasureType.PROPORTION and numerator > denominator:
        raise InvalidObservation(
            "denominator",
            f"{_show(denominator)} is below the numerator {_show(numerator)}: "
            "a proportion's numerator counts part of its denominator",
        )


def validate_multiplier(measure_type: MeasureType, multiplier: float) -> None:
    """Raise :class:`InvalidObservation` (field ``"multiplier"``) unless a rate's
    multiplier is a positive finite number; a COUNT has none, so any is accepted."""
    if MeasureType(measure_type) is MeasureType.COUNT:
        return
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, int | float)
        or not math.isfinite(multiplier)
        or multiplier <= 0
    ):
        raise InvalidObservation("multiplier", f"must be a positive number, not {multiplier!r}")


def _check_number(field: str, number: float, *, whole: bool) -> None:
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InvalidObservation(field, f"must be a number, not {type(number).__name__}")
    if not math.isfinite(number):
        raise InvalidObservation(field, f"must be a finite number, not {number}")
    if number < 0:
        raise InvalidObservation(field, f"must not be negative ({_show(number)})")
    if whole and number != int(number):
        raise InvalidObservation(field, f"counts, so it must be a whole number ({_show(number)})")


def _show(number: float) -> str:
    return f"{number:g}"
