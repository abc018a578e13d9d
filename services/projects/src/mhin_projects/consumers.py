"""What project-tracking consumes (each handler runs inside the platform
consumer's idempotent transaction; InvalidArgument dead-letters the record):

- solution events from the catalogue -> the read model of known solutions, which
  calls and projects are checked against; a snapshot is kept only if newer;
- governance decisions -> the selection saga's last step (``app.apply_decision``).
  A decision about anything but a selection proposal is not ours and is skipped; a
  decision on a proposal that does not exist here is dead-lettered.
"""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.governance.v1 import decision_events_pb2
from mhin_platform.errors import InvalidArgument
from mhin_platform.events import topic_names
from mhin_platform.events.consumer import Handler
from mhin_platform.events.envelope import Event
from mhin_platform.events.topics import event_classes
from mhin_platform.runtime import ConsumerSpec
from mhin_platform.usecases import utc_now
from mhin_projects import app, convert, store

SOLUTION_TOPIC = topic_names.CATALOGUE_SOLUTION
DECISION_TOPIC = topic_names.GOVERNANCE_DECISION

def keep_solution(session: Session, event: Event, message: Message) -> None:
    solution = convert.solution_from_proto(message.solution)  # type: ignore[attr-defined]
    if solution.id != event.key:
        raise InvalidArgument("solution.id", f"{solution.id!r} is not the record key "
                                             f"{event.key!r}")
    if solution.version < 1:
        raise InvalidArgument("solution.version", "must be at least 1")
    store.solutions.keep_latest(session, solution)


def apply_decision(session: Session, event: Event, message: Message) -> None:
    decision = convert.decision_from_proto(message)  # type: ignore[arg-type]
    if decision is not None:
        app.apply_decision(session, decision, utc_now())


CONSUMERS = (
    ConsumerSpec(name="solutions", topics=[SOLUTION_TOPIC],
                 # every solution event carries the whole solution
                 handlers=[Handler(kind, keep_solution)
                           for kind in event_classes(SOLUTION_TOPIC)]),
    ConsumerSpec(name="decisions", topics=[DECISION_TOPIC],
                 handlers=[Handler(decision_events_pb2.DecisionRecorded, apply_decision)]),
)
