"""The catalogue's events: each state change is written to the outbox in its
transaction, carrying the aggregate after the change: solutions on
``mhin.catalogue.solution`` (key = solution id), rounds on
``mhin.catalogue.prioritisation-round`` (key = round id). What it consumes is in
``consumers``."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.catalogue.v1 import events_pb2, prioritisation_events_pb2
from mhin_catalogue import SERVICE_NAME, convert
from mhin_catalogue.domain import Solution
from mhin_catalogue.mcda import Round
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import new_event
from mhin_platform.events.outbox import add_to_outbox

SOLUTION_TOPIC = topic_names.CATALOGUE_SOLUTION
ROUND_TOPIC = topic_names.CATALOGUE_PRIORITISATION_ROUND
SOURCE = f"/mhin/{SERVICE_NAME}"


def _record(session: Session, topic: str, key: str, message: Message) -> None:
    add_to_outbox(session, new_event(topic=topic, key=key, source=SOURCE, subject=key,
                                     message=message))


def solution_catalogued(session: Session, solution: Solution) -> None:
    _record(session, SOLUTION_TOPIC, solution.id,
            events_pb2.SolutionCatalogued(solution=convert.solution_to_proto(solution)))


def solution_revised(session: Session, solution: Solution) -> None:
    _record(session, SOLUTION_TOPIC, solution.id,
            events_pb2.SolutionRevised(solution=convert.solution_to_proto(solution)))


def solution_linked(session: Session, solution: Solution, need_id: str) -> None:
    _record(session, SOLUTION_TOPIC, solution.id, events_pb2.SolutionLinkedToNeed(
        solution=convert.solution_to_proto(solution), need_id=need_id))


def solution_unlinked(session: Session, solution: Solution, need_id: str) -> None:
    _record(session, SOLUTION_TOPIC, solution.id, events_pb2.SolutionUnlinkedFromNeed(
        solution=convert.solution_to_proto(solution), need_id=need_id))


def solution_retired(session: Session, solution: Solution) -> None:
    _record(session, SOLUTION_TOPIC, solution.id,
            events_pb2.SolutionRetired(solution=convert.solution_to_proto(solution)))


def round_recorded(session: Session, round_: Round) -> None:
    _record(session, ROUND_TOPIC, round_.id, prioritisation_events_pb2.PrioritisationRoundRecorded(
        round=convert.round_to_proto(round_)))


def round_closed(session: Session, round_: Round) -> None:
    _record(session, ROUND_TOPIC, round_.id, prioritisation_events_pb2.PrioritisationRoundClosed(
        round=convert.round_to_proto(round_)))
