"""evaluation's events, published through the outbox in the transaction of the
change: measure definitions (``mhin.evaluation.measure``, key = measure id),
observations (``mhin.evaluation.observation``, key = measure id, so one measure's
observations and their corrections stay in order on one partition) and impact
estimates (``mhin.evaluation.impact``). What it consumes is in ``consumers``."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.evaluation.v1 import measure_events_pb2, observation_events_pb2
from mhin_evaluation import SERVICE_NAME, convert
from mhin_evaluation.domain import Measure, Observation
from mhin_measures.hierarchy import cell_key
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import Event, new_event
from mhin_platform.events.outbox import add_to_outbox
from mhin_platform.protoconv import enum_to_proto, timestamp

MEASURE_TOPIC = topic_names.EVALUATION_MEASURE
OBSERVATION_TOPIC = topic_names.EVALUATION_OBSERVATION
IMPACT_TOPIC = topic_names.EVALUATION_IMPACT
SOURCE = f"/mhin/{SERVICE_NAME}"


# ----------------------------------------------------------------- publication


def measure_defined(session: Session, measure: Measure) -> None:
    message = measure_events_pb2.MeasureDefined(measure=convert.measure_to_proto(measure))
    add_to_outbox(session, new_event(topic=MEASURE_TOPIC, key=measure.id, source=SOURCE,
                                     subject=measure.id, message=message))


def observations_recorded(session: Session, recorded: Sequence[tuple[Observation, Measure]]
                          ) -> None:
    if recorded:  # an identical resubmission changes nothing and publishes nothing
        add_to_outbox(session, *(_observation_event(o, m) for o, m in recorded))


def _observation_event(observation: Observation, measure: Measure) -> Event:
    message = observation_events_pb2.ObservationRecorded(
        measure_id=observation.measure_id,
        project_id=observation.project_id,
        site_id=observation.site_id,
        arc=enum_to_proto(observation.arc, convert.ARC),
        period=observation.period,
        stratum=observation.stratum,
        numerator=observation.numerator,
        denominator=observation.denominator or 0.0,
        version=observation.version,
        measure_type=enum_to_proto(measure.type, convert.MEASURE_TYPE),
        multiplier=measure.multiplier,
        direction=enum_to_proto(measure.direction, convert.DIRECTION),
        recorded_at=timestamp(observation.recorded_at),
    )
    return new_event(topic=OBSERVATION_TOPIC, key=observation.measure_id, source=SOURCE,
                     subject=cell_key(*observation.key), message=message)


def impact_estimated(session: Session, key: str, message: Message) -> None:
    add_to_outbox(session, new_event(topic=IMPACT_TOPIC, key=key, source=SOURCE, subject=key,
                                     message=message))
