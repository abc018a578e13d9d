"""MCDA prioritisation rounds (DESIGN.md §1.2, after Ahuja et al. 2023): pure, no I/O.

Each option is scored 0-100 on each criterion, the criteria's weights sum to 100,
and an option's total is Σ(weight × score) / 100. Arithmetic is exact: a number is
the decimal as written (16.7 is 167/10, not the nearest binary float), so weights
sum to exactly 100 or they do not, and equal totals are real ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, NamedTuple

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from mhin_catalogue.domain import Model, Text, name_key
from mhin_platform.errors import FailedPrecondition

FULL_WEIGHT = 100
MAX_CRITERIA = 30
MAX_OPTIONS = 100
MAX_GROUPS = 20

# The network's criteria and weights (DESIGN.md §1.2), seeded as reference data.
MHIN_CRITERIA: tuple[tuple[str, str], ...] = (
    ("Clinically effective", "21.5"),
    ("Patients involved", "16.7"),
    ("Reduces inequalities", "19.0"),
    ("Implementable", "23.8"),
    ("Sustainable", "19.0"),
)

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Weight = Annotated[Decimal, Field(gt=0, le=FULL_WEIGHT)]
ScoreValue = Annotated[Decimal, Field(ge=0, le=100)]

# option -> criterion -> score, and criterion -> weight: what the calculations take.
Scores = Mapping[str, Mapping[str, Fraction]]
Weights = Mapping[str, Fraction]


class Combination(StrEnum):
    """How the scores of several stakeholder groups become one score."""

    MEAN = "mean"  # the arithmetic mean of the groups' scores
    WEIGHTED_MEAN = "weighted mean"  # Σ(group weight × group score) / 100


class RoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Criterion(Model):
    name: Label
    weight: Weight
    description: Text = ""


class RoundOption(Model):
    """An option of a round: a catalogued solution, or a named option of a published table."""

    name: Label
    solution_id: Annotated[str, StringConstraints(max_length=36)] = ""


class StakeholderGroup(Model):
    name: Label
    weight: Weight | None = None  # only with Combination.WEIGHTED_MEAN


class Score(Model):
    option: Label
    criterion: Label
    stakeholder_group: Annotated[str, StringConstraints(strip_whitespace=True,
                                                        max_length=200)] = ""
    value: ScoreValue


def _duplicate(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name_key(name) in seen:
            return name
        seen.add(name_key(name))
    return None


class RoundDraft(Model):
    """What the organisers of a round provide. Field validators run in declaration
    order, so each one can check its field against the fields above it."""

    title: Label
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    criteria: Annotated[list[Criterion], Field(min_length=2, max_length=MAX_CRITERIA)]
    options: Annotated[list[RoundOption], Field(min_length=2, max_length=MAX_OPTIONS)]
    stakeholder_groups: Annotated[list[StakeholderGroup], Field(max_length=MAX_GROUPS)] = []
    combination: Combination | None = Field(default=None, validate_default=True)
    scores: list[Score]

    @field_validator("criteria")
    @classmethod
    def _weights_sum_to_100(cls, criteria: list[Criterion]) -> list[Criterion]:
        if twice := _duplicate([c.name for c in criteria]):
            raise ValueError(f"criterion {twice!r} appears more than once")
        total = sum(c.weight for c in criteria)
        if total != FULL_WEIGHT:
            raise ValueError(f"weights must sum to {FULL_WEIGHT}, they sum to {total}")
        return criteria

    @field_validator("options")
    @classmethod
    def _distinct_options(cls, options: list[RoundOption]) -> list[RoundOption]:
        if twice := _duplicate([o.name for o in options]):
            raise ValueError(f"option {twice!r} appears more than once")
        if twice := _duplicate([o.solution_id for o in options if o.solution_id]):
            raise ValueError(f"solution {twice} is more than one option")
        return options

    @field_validator("stakeholder_groups")
    @classmethod
    def _distinct_groups(cls, groups: list[StakeholderGroup]) -> list[StakeholderGroup]:
        if twice := _duplicate([g.name for g in groups]):
            raise ValueError(f"group {twice!r} appears more than once")
        return groups

    @field_validator("combination")
    @classmethod
    def _stated_rule(cls, combination: Combination | None,
                     info: ValidationInfo) -> Combination | None:
        groups: list[StakeholderGroup] = info.data.get("stakeholder_groups", [])
        if not groups:
            if combination is not None:
                raise ValueError("only a round with stakeholder groups combines scores")
            return None
        if combination is None:
            raise ValueError("say how the stakeholder groups' scores are combined")
        weights = [g.weight for g in groups]
        if combination is Combination.MEAN and any(w is not None for w in weights):
            raise ValueError("a mean ignores group weights: leave them unset, or use a "
                             "weighted mean")
        if combination is Combination.WEIGHTED_MEAN:
            if None in weights:
                raise ValueError("a weighted mean needs a weight for every stakeholder group")
            if (total := sum(w for w in weights if w is not None)) != FULL_WEIGHT:
                raise ValueError(f"group weights must sum to {FULL_WEIGHT}, they sum to {total}")
        return combination

    @field_validator("scores")
    @classmethod
    def _one_score_per_cell(cls, scores: list[Score], info: ValidationInfo) -> list[Score]:
        if not {"criteria", "options", "stakeholder_groups"} <= info.data.keys():
            return scores  # a field above is invalid and already reported
        axes = {
            "option": [o.name for o in info.data["options"]],
            "criterion": [c.name for c in info.data["criteria"]],
            "stakeholder_group": [g.name for g in info.data["stakeholder_groups"]] or [""],
        }
        _require_complete(_scored_cells(scores, axes), axes)
        return scores


def _scored_cells(scores: list[Score], axes: dict[str, list[str]]) -> set[tuple[str, str, str]]:
    """The cells the scores fill; ValueError if a score names something unknown or
    fills a cell already filled."""
    known = {axis: {name_key(name) for name in names} for axis, names in axes.items()}
    cells: set[tuple[str, str, str]] = set()
    for index, score in enumerate(scores):
        for axis in axes:
            if name_key(getattr(score, axis)) not in known[axis]:
                raise ValueError(f"score {index} names {axis} {getattr(score, axis)!r}, "
                                 f"which is not one of the round's")
        cell = (score.option, score.criterion, score.stakeholder_group)
        if _cell_key(*cell) in cells:
            raise ValueError(f"score {index} repeats the score of {_describe(*cell)}")
        cells.add(_cell_key(*cell))
    return cells


def _require_complete(cells: set[tuple[str, str, str]], axes: dict[str, list[str]]) -> None:
    for option in axes["option"]:
        for criterion in axes["criterion"]:
            for group in axes["stakeholder_group"]:
                if _cell_key(option, criterion, group) not in cells:
                    raise ValueError(f"no score for {_describe(option, criterion, group)}")


def _cell_key(option: str, criterion: str, group: str) -> tuple[str, str, str]:
    return name_key(option), name_key(criterion), name_key(group)


def _describe(option: str, criterion: str, group: str) -> str:
    cell = f"option {option!r} on criterion {criterion!r}"
    return f"{cell} from group {group!r}" if group else cell


class Round(RoundDraft):
    id: str
    status: RoundStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def results(self) -> Results:
        weights = {c.name: Fraction(c.weight) for c in self.criteria}
        scores = combined_scores(self)
        return Results(ranking(totals(weights, scores)), sensitivity(weights, scores))


def record(draft: RoundDraft, round_id: str, now: datetime) -> Round:
    return Round(**draft.model_dump(), id=round_id, status=RoundStatus.OPEN,
                 created_at=now, updated_at=now)


def close(round_: Round, now: datetime) -> Round:
    """The round with its results agreed: it can no longer change."""
    if round_.status is RoundStatus.CLOSED:
        raise FailedPrecondition(f"prioritisation round {round_.id} is already closed")
    return round_.model_copy(update={"status": RoundStatus.CLOSED, "updated_at": now,
                                     "version": round_.version + 1})


# ------------------------------------------------------------------ calculations


@dataclass(frozen=True)
class Ranked:
    option: str
    total: Fraction
    rank: int  # 1 is best; equal totals share a rank and the next rank is skipped


@dataclass(frozen=True)
class WeightRange:
    """Within [lower, upper] of ``criterion``'s weight (the others rescaled in
    proportion so the weights still sum to 100) no option's total exceeds ``option``'s."""

    criterion: str
    weight: Fraction
    option: str
    lower: Fraction
    upper: Fraction


@dataclass(frozen=True)
class Results:
    ranking: list[Ranked]
    sensitivity: list[WeightRange]


def combined_scores(draft: RoundDraft) -> dict[str, dict[str, Fraction]]:
    """One score per option × criterion; several groups' scores combined by the
    round's stated rule."""
    names = {name_key(o.name): o.name for o in draft.options}
    criteria = {name_key(c.name): c.name for c in draft.criteria}
    group_weights = {name_key(g.name): Fraction(g.weight or 0) for g in draft.stakeholder_groups}
    combined: dict[str, dict[str, Fraction]] = {o.name: {} for o in draft.options}
    for score in draft.scores:
        option, criterion = names[name_key(score.option)], criteria[name_key(score.criterion)]
        value = Fraction(score.value)
        if draft.combination is Combination.MEAN:
            value /= len(draft.stakeholder_groups)
        elif draft.combination is Combination.WEIGHTED_MEAN:
            value *= group_weights[name_key(score.stakeholder_group)] / FULL_WEIGHT
        combined[option][criterion] = combined[option].get(criterion, Fraction(0)) + value
    return combined


def totals(weights: Weights, scores: Scores) -> dict[str, Fraction]:
    """Each option's Σ(weight × score) / 100."""
    return {option: sum((weights[c] * s[c] for c in weights), Fraction(0)) / FULL_WEIGHT
            for option, s in scores.items()}


def ranking(option_totals: Mapping[str, Fraction]) -> list[Ranked]:
    """Highest total first (ties in the given order), with competition ranks (1, 1, 3)."""
    ordered = sorted(option_totals.items(), key=lambda item: -item[1])
    return [Ranked(option, total, 1 + sum(t > total for t in option_totals.values()))
            for option, total in ordered]


class _Line(NamedTuple):
    """An option's total as a function of one criterion's weight x: at_zero + slope × x."""

    at_zero: Fraction
    slope: Fraction


def _total_line(weights: Weights, option_scores: Mapping[str, Fraction], criterion: str) -> _Line:
    # With weight x on ``criterion`` and the others scaled by (100 - x) / (100 - w),
    # the total is x·s/100 + (100 - x)·m/100, where m is the option's weighted mean
    # score on the other criteria.
    others = FULL_WEIGHT - weights[criterion]
    mean_elsewhere = sum((w * option_scores[c] for c, w in weights.items() if c != criterion),
                         Fraction(0)) / others
    return _Line(mean_elsewhere, (option_scores[criterion] - mean_elsewhere) / FULL_WEIGHT)


def weight_range(weights: Weights, scores: Scores, criterion: str,
                 top: str) -> tuple[Fraction, Fraction]:
    """The interval of ``criterion``'s weight, within [0, 100], over which ``top``
    (a top option at ``weights``, which sum to 100) stays top. Every total is linear
    in the weight, so each rival bounds the interval at most once: where its line
    crosses top's. The bounds are exact."""
    if not 0 < weights[criterion] < FULL_WEIGHT:
        raise ValueError(f"criterion {criterion!r} must weigh more than 0 and less than 100")
    current = totals(weights, scores)
    if current[top] != max(current.values()):
        raise ValueError(f"{top!r} is not a top option")
    lower, upper = Fraction(0), Fraction(FULL_WEIGHT)
    leader = _total_line(weights, scores[top], criterion)
    for option, option_scores in scores.items():
        if option == top:
            continue
        rival = _total_line(weights, option_scores, criterion)
        lead_slope = leader.slope - rival.slope
        if lead_slope == 0:
            continue  # the lead is the same at every weight
        crossing = (rival.at_zero - leader.at_zero) / lead_slope
        if lead_slope > 0:
            lower = max(lower, crossing)
        else:
            upper = min(upper, crossing)
    return lower, upper


def sensitivity(weights: Weights, scores: Scores) -> list[WeightRange]:
    """For each criterion and each top option (several when they tie), the range of
    the criterion's weight within which that option stays top."""
    leaders = [r.option for r in ranking(totals(weights, scores)) if r.rank == 1]
    return [WeightRange(criterion, weight, top, *weight_range(weights, scores, criterion, top))
            for criterion, weight in weights.items() for top in leaders]
