"""Synthetic observation streams, for the tests and the benchmark: ObservationRecorded
events as evaluation publishes them (CloudEvents keyed by measure id)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import measure_pb2
from mhin.evaluation.v1.observation_events_pb2 import ObservationRecorded
from mhin_measures.hierarchy import cell_key
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_platform.events.envelope import Event, new_event
from mhin_platform.protoconv import enum_to_proto, timestamp
from mhin_platform.reference import Arc

EVALUATION = "evaluation"


@dataclass(frozen=True)
class Observation:
    """The fields of one ObservationRecorded, in domain terms."""

    measure_id: str
    site_id: str
    arc: Arc
    period: str
    numerator: float
    denominator: float = 0.0
    stratum: str = ""
    version: int = 1
    project_id: str = "project-1"
    measure_type: MeasureType = MeasureType.COUNT
    multiplier: float = 1.0
    direction: Direction | None = Direction.UP

    @property
    def cell_key(self) -> str:
        return cell_key(self.measure_id, self.site_id, self.period, self.stratum)

    def corrected(self, numerator: float, denominator: float | None = None) -> Observation:
        """The next version with new numbers."""
        return replace(self, numerator=numerator, version=self.version + 1,
                       denominator=self.denominator if denominator is None else denominator)

    def message(self) -> ObservationRecorded:
        return ObservationRecorded(
            measure_id=self.measure_id,
            project_id=self.project_id,
            site_id=self.site_id,
            arc=enum_to_proto(self.arc, arc_pb2.Arc),
            period=self.period,
            stratum=self.stratum,
            numerator=self.numerator,
            denominator=self.denominator,
            version=self.version,
            measure_type=enum_to_proto(self.measure_type, measure_pb2.MeasureType),
            multiplier=self.multiplier,
            direction=enum_to_proto(self.direction, measure_pb2.Direction),
            recorded_at=timestamp(datetime.now(UTC)),
        )

    def event(self, topic: str) -> Event:
        return new_event(topic=topic, key=self.measure_id, source=EVALUATION,
                         message=self.message())


_MEASURES = (
    # (type, multiplier, direction, stratifier groups)
    (MeasureType.PROPORTION, 100.0, Direction.UP,
     [f"ethnicity={g}" for g in ("Asian", "Black", "Mixed", "White", "Other", "Not stated")]),
    (MeasureType.RATIO, 100_000.0, Direction.DOWN,
     [f"ethnicity={g}" for g in ("Asian", "Black", "Mixed", "White", "Other", "Not stated")]),
    (MeasureType.PROPORTION, 100.0, Direction.UP,
     [f"sex={s}|age_band={a}" for s in ("F", "M") for a in ("5-11", "12-17")]),
    (MeasureType.MEAN, 1.0, Direction.DOWN, [""]),
    (MeasureType.COUNT, 1.0, Direction.DOWN, [""]),
)


def workload(
    *,
    measures: int = 10,
    sites: int = 40,
    months: int = 24,
    seed: int = 1,
) -> Iterator[Observation]:
    """A backfill: every measure x site x month x stratum once, month by month, the
    sites spread over three projects and their ARCs, numbers of realistic size
    (some small enough to be suppressed)."""
    rng = random.Random(seed)
    arcs = list(Arc)
    site_arcs = {f"site-{n:03d}": arcs[n % len(arcs)] for n in range(sites)}
    for month in range(months):
        period = f"{2022 + month // 12}-{month % 12 + 1:02d}"
        for m in range(measures):
            measure_type, multiplier, direction, strata = _MEASURES[m % len(_MEASURES)]
            for site, arc in site_arcs.items():
                for stratum in strata:
                    denominator = float(rng.randint(0, 400))
                    numerator = _numerator(measure_type, denominator, rng)
                    yield Observation(
                        measure_id=f"measure-{m:02d}", site_id=site, arc=arc, period=period,
                        stratum=stratum, numerator=numerator,
                        denominator=0.0 if measure_type is MeasureType.COUNT else denominator,
                        project_id=f"project-{m % 3 + 1}", measure_type=measure_type,
                        multiplier=multiplier, direction=direction,
                    )


def _numerator(measure_type: MeasureType, denominator: float, rng: random.Random) -> float:
    if measure_type is MeasureType.MEAN:
        return round(denominator * rng.uniform(0.5, 6.0), 2)  # e.g. hours: not whole
    if measure_type is MeasureType.PROPORTION:
        return float(rng.randint(0, int(denominator)))
    return float(rng.randint(0, 60))
