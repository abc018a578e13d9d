"""evaluation's rules: pure, no I/O. Periods, strata, rates, disclosure and SPC are
the shared rules of ``mhin_measures``; this module applies them to measure
definitions, observations and the aggregates read model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mhin_measures import complementary, disclosure, periods, rates, spc, strata
from mhin_measures.hierarchy import NATIONAL_UNIT, AggregateKey, Level
from mhin_measures.periods import Frequency
from mhin_measures.rates import InvalidObservation, MeasureType
from mhin_measures.spc import Direction
from mhin_platform.auth import Principal, Role
from mhin_platform.errors import InvalidArgument
from mhin_platform.models import Id, Model, Name
from mhin_platform.reference import Arc


class ReAimDimension(StrEnum):
    REACH = "Reach"
    EFFECTIVENESS = "Effectiveness"
    ADOPTION = "Adoption"
    IMPLEMENTATION = "Implementation"
    MAINTENANCE = "Maintenance"


class ProctorOutcome(StrEnum):
    ACCEPTABILITY = "Acceptability"
    ADOPTION = "Adoption"
    APPROPRIATENESS = "Appropriateness"
    FEASIBILITY = "Feasibility"
    FIDELITY = "Fidelity"
    IMPLEMENTATION_COST = "Implementation cost"
    PENETRATION = "Penetration"
    SUSTAINABILITY = "Sustainability"


class Stratifier(StrEnum):
    """Names equal the ``mhin.evaluation.v1.Stratifier`` suffixes; values are the
    stratifier names of stratum text (``mhin_measures.strata``)."""

    SEX = strata.SEX.name
    AGE_BAND = strata.AGE_BAND.name
    ETHNICITY = strata.ETHNICITY.name
    DEPRIVATION_DECILE = strata.DEPRIVATION_DECILE.name

    @property
    def groups(self) -> tuple[str, ...]:
        return strata.STRATIFIERS[self.value].groups


class Outcome(StrEnum):
    """What a submission did; names equal the ``ObservationOutcome`` suffixes."""

    RECORDED = "recorded"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"


MeasureId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Part = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


# ----------------------------------------------------------------- measure definitions


class MeasureTag(Model):
    """One framework category; field names are the proto oneof's, so errors name them."""

    re_aim: ReAimDimension | None = None
    proctor: ProctorOutcome | None = None
    clinical_outcome: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MeasureTag:
        if sum(value is not None for value in (self.re_aim, self.proctor,
                                                self.clinical_outcome)) != 1:
            raise ValueError("set exactly one of re_aim, proctor, clinical_outcome")
        return self


def _canonical_stratifiers(names: tuple[Stratifier, ...]) -> tuple[Stratifier, ...]:
    return tuple(Stratifier(name) for name in strata.validate_stratifiers([n.value for n in names]))


class MeasureDraft(Model):
    """What whoever defines a measure provides."""

    id: MeasureId
    project_id: Id
    title: Name
    description: Description = ""
    tag: MeasureTag
    type: MeasureType
    numerator: Annotated[Part, StringConstraints(min_length=1)]
    denominator: Part = ""
    multiplier: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    direction: Direction | None = None
    frequency: Frequency
    stratifiers: Annotated[tuple[Stratifier, ...], AfterValidator(_canonical_stratifiers)] = ()

    # Field validators (not a model validator) so that an error names its field.
    @field_validator("denominator")
    @classmethod
    def _denominator_fits_the_type(cls, text: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        if kind is MeasureType.COUNT and text:
            raise ValueError("a count has no denominator: leave it empty")
        if kind not in (None, MeasureType.COUNT) and not text:
            raise ValueError(f"a {kind} measure needs a denominator")
        return text

    @field_validator("multiplier")
    @classmethod
    def _count_multiplier_is_one(cls, multiplier: float, info: ValidationInfo) -> float:
        if info.data.get("type") is MeasureType.COUNT and multiplier != 1:
            raise ValueError("a count's value is its numerator: the multiplier must be 1")
        return multiplier


class Measure(MeasureDraft):
    defined_at: datetime
    version: Annotated[int, Field(ge=1)] = 1

    def same_definition(self, draft: MeasureDraft) -> bool:
        return MeasureDraft(**self.model_dump(include=set(MeasureDraft.model_fields))) == draft


def define(draft: MeasureDraft, now: datetime) -> Measure:
    return Measure(**draft.model_dump(), defined_at=now)


# ----------------------------------------------------------------- project sites (read model)


class Site(Model):
    id: Id
    project_id: Id
    name: str
    arc: Arc
    go_live: date | None = None
    """When the project goes (or went) live at the site; None while not planned."""


class ProjectSites(Model):
    """A project's sites as of one version of project-tracking's project snapshot."""

    project_id: Id
    version: Annotated[int, Field(ge=1)]
    sites: tuple[Site, ...] = ()


def is_newer(snapshot: ProjectSites | Measure, known_version: int | None) -> bool:
    """Events may arrive again or late: only a higher version replaces what is known."""
    return known_version is None or snapshot.version > known_version


# ----------------------------------------------------------------- observations


class ObservationDraft(Model):
    """An observation as submitted, before it is checked against its measure and site."""

    measure_id: str
    site_id: str
    period: str
    stratum: str = ""
    numerator: float
    denominator: float | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.measure_id, self.site_id, self.period, self.stratum)


class Observation(ObservationDraft):
    project_id: str
    arc: Arc
    version: int
    recorded_at: datetime
    recorded_by: str

    def same_numbers(self, other: ObservationDraft) -> bool:
        return (self.numerator, self.denominator) == (other.numerator, other.denominator)


def check_observation(draft: ObservationDraft, measure: Measure | None, site: Site | None,
                      today: date) -> ObservationDraft:
    """The observation in canonical form, or InvalidArgument naming the field (relative
    to the observation) that breaks the measure's definition or the project's sites."""
    if measure is None:
        raise InvalidArgument("measure_id", f"unknown measure {draft.measure_id!r}")
    if site is None:
        raise InvalidArgument("site_id", f"unknown site {draft.site_id!r}")
    if site.project_id != measure.project_id:
        raise InvalidArgument("site_id", f"site {site.id!r} is a site of project "
                              f"{site.project_id!r}, not of the measure's project "
                              f"{measure.project_id!r}")
    _check_period(draft.period, measure.frequency, today)
    stratum = _cell_stratum(draft.stratum, measure.stratifiers)
    denominator = None if measure.type is MeasureType.COUNT else draft.denominator
    try:
        rates.validate_observation(measure.type, draft.numerator, draft.denominator)
    except InvalidObservation as exc:
        raise InvalidArgument(exc.field, exc.message) from None
    return draft.model_copy(update={"stratum": stratum, "denominator": denominator})


# Cached: a batch of thousands repeats a few periods and strata.
@lru_cache(maxsize=4096)
def _check_period(period: str, frequency: Frequency, today: date) -> None:
    try:
        periods.validate_period(period, frequency)
    except ValueError as exc:
        raise InvalidArgument("period", str(exc)) from None
    if periods.parse_period(period).start > today:
        raise InvalidArgument("period", f"{period} has not started yet")


@lru_cache(maxsize=4096)
def _cell_stratum(stratum: str, stratifiers: tuple[Stratifier, ...]) -> str:
    """A stratified measure's observations are cells naming a group of every
    stratifier: the stream rolls cells up to every coarser stratum (down to all
    strata combined), so a value sent for a coarser stratum would be counted twice."""
    names = [stratifier.value for stratifier in stratifiers]
    try:
        canonical = strata.validate_stratum(stratum, names)
    except ValueError as exc:
        raise InvalidArgument("stratum", str(exc)) from None
    missing = [name for name in names if name not in strata.parse_stratum(canonical)]
    if missing:
        raise InvalidArgument("stratum", f"{stratum!r} names no group of {', '.join(missing)}: "
                              f"name a group of each of {', '.join(names)} "
                              f"(use '{strata.NOT_STATED}' when it is not known)")
    return canonical


def record(checked: ObservationDraft, earlier: Observation | None, site: Site, measure: Measure,
           principal: Principal, now: datetime) -> tuple[Observation, Outcome]:
    """The observation after a submission and what the submission did."""
    if earlier is not None and earlier.same_numbers(checked):
        return earlier, Outcome.UNCHANGED
    observation = Observation.model_construct(  # every part is already validated
        **dict(checked), project_id=measure.project_id, arc=site.arc,
        version=1 if earlier is None else earlier.version + 1, recorded_at=now,
        recorded_by=principal.subject,
    )
    return observation, Outcome.RECORDED if earlier is None else Outcome.CORRECTED


# ----------------------------------------------------------------- aggregates (read model)


class AggregateRow(Model):
    """An aggregate as the stream computed it, unsuppressed (restricted topic)."""

    measure_id: str
    level: Level
    unit: str
    period: str
    stratum: str
    owner_arc: Arc | None
    numerator: float
    denominator: float
    observation_count: int
    computed_at: datetime

    @property
    def key(self) -> AggregateKey:
        return AggregateKey(self.measure_id, self.level, self.unit, self.period, self.stratum)


@dataclass(frozen=True)
class AggregateView:
    """An aggregate as one caller may see it."""

    row: AggregateRow
    shown: disclosure.Disclosed
    in_full: bool


def sees_in_full(principal: Principal, owner: Arc | None) -> bool:
    """The shared rule: national callers and the owning ARC's members (site and ARC
    levels; nothing above has an owner) see figures in full. A viewer's ARC, if any,
    grants nothing: viewers only read what is disclosable."""
    member_arc = principal.arc.name if principal.role is Role.ARC_MEMBER and principal.arc else None
    return disclosure.visible_to(owner.name if owner else None, member_arc,
                                 principal.role is Role.NATIONAL_ADMIN)


def view(row: AggregateRow, measure: Measure, principal: Principal,
         marks: complementary.Marks) -> AggregateView:
    """The aggregate as ``principal`` sees it, given what its measure and period's
    disclosure pattern withholds from it (``mhin_evaluation.suppression``)."""
    in_full = sees_in_full(principal, row.owner_arc)
    shown = complementary.disclosed(measure.type, row.numerator, row.denominator,
                                    measure.multiplier, marks, in_full=in_full)
    return AggregateView(row, shown, in_full)


def series_order(views: list[AggregateView]) -> list[AggregateView]:
    return sorted(views, key=lambda item: periods.sort_key(item.row.period))


def canonical_series_stratum(stratum: str, measure: Measure) -> str:
    """A queried stratum may name any of the measure's stratifiers (a roll-up)."""
    try:
        return strata.validate_stratum(stratum, [s.value for s in measure.stratifiers])
    except ValueError as exc:
        raise InvalidArgument("stratum", str(exc)) from None


def canonical_unit(level: Level, unit: str) -> str:
    """The unit as aggregates key it: an ARC's code, "national" at the national level."""
    if level is Level.NATIONAL:
        if unit not in ("", NATIONAL_UNIT):
            raise InvalidArgument("unit", f"the national level has one unit, {NATIONAL_UNIT!r}")
        return NATIONAL_UNIT
    if level is Level.ARC:
        try:
            return Arc.parse(unit).name
        except ValueError as exc:
            raise InvalidArgument("unit", str(exc)) from None
    if not unit.strip():
        raise InvalidArgument("unit", f"name the {level.value} (its id)")
    return unit.strip()


def breakdown_strata(stratifier: Stratifier, measure: Measure) -> list[str]:
    """The strata of a breakdown by ``stratifier``, in its groups' order."""
    if stratifier not in measure.stratifiers:
        raise InvalidArgument("stratifier", f"measure {measure.id} is not stratified by "
                              f"{stratifier.value}")
    return [strata.format_stratum({stratifier.value: group}) for group in stratifier.groups]


# ----------------------------------------------------------------- statistical process control


@dataclass(frozen=True)
class ChartPoint:
    period: str
    value: float | None
    suppressed: bool
    analysed: spc.SpcPoint | None
    segment: int = 0
    secondary: bool = False
    """Suppressed only by complementary suppression."""


@dataclass(frozen=True)
class SpcChart:
    direction: Direction | None
    points: tuple[ChartPoint, ...]
    result: spc.SpcResult
    """The latest segment's analysis (the whole chart's unless rebased)."""
    segments: tuple[tuple[str, spc.Segment], ...] = ()
    """Each segment with its first period, oldest first."""
    screened: bool = False
    fix_after_n_points: int = 0

    @property
    def verdict(self) -> spc.Variation | None:
        """The latest point's variation: what a Making Data Count icon shows."""
        return self.result.points[-1].variation if self.result.points else None


def spc_chart(views: list[AggregateView], measure: Measure, *,
              rebase_periods: Sequence[str] = (), fix_after_n_points: int = 0,
              screen_outliers: bool = False) -> SpcChart:
    """An XmR chart of what the caller may see: suppressed and undefined values are
    not points, so the limits never carry what a caller may not see. Rebased at each
    of ``rebase_periods`` (the first point at or after it starts a segment with its
    own mean and limits; one before the first point or beyond the last changes
    nothing), each segment's limits from its first ``fix_after_n_points`` points
    when set, moving ranges screened when ``screen_outliers``."""
    ordered = series_order(views)
    charted = [item for item in ordered if item.shown.value is not None]
    values = [value for item in charted if (value := item.shown.value) is not None]
    cuts = sorted({index for index in (_first_at_or_after(charted, period)
                                       for period in rebase_periods)
                   if 0 < index < len(values)})
    try:
        segments = spc.analyse_segments(values, measure.direction, rebase_at=cuts,
                                        fix_after_n_points=fix_after_n_points or None,
                                        screen_outliers=screen_outliers)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidArgument(field, message) from None
    result = segments[-1].result if segments else spc.analyse([], measure.direction)
    analysed = iter([(number, point) for number, segment in enumerate(segments)
                     for point in segment.result.points])
    points: list[ChartPoint] = []
    for item in ordered:
        number, point = next(analysed) if item.shown.value is not None else (None, None)
        points.append(ChartPoint(item.row.period, item.shown.value, item.shown.value_suppressed,
                                 point, number if number is not None else
                                 (points[-1].segment if points else 0),
                                 item.shown.value_secondary))
    return SpcChart(measure.direction, tuple(points), result,
                    tuple((charted[segment.start].row.period, segment) for segment in segments),
                    screen_outliers, fix_after_n_points)


def _first_at_or_after(charted: list[AggregateView], period: str) -> int:
    start = periods.parse_period(period)
    return next((index for index, item in enumerate(charted)
                 if periods.parse_period(item.row.period) >= start), len(charted))
