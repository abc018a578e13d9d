"""What governance consumes: the selection saga, governance's side. Choreographed:
no calls, only events.

project-tracking publishes ``SelectionProposed`` on ``mhin.projects.selection``;
governance puts the proposal on the agenda of the Executive's next meeting not yet
held (scheduling one by the Executive's rule when there is none). Recording the
Executive's decision on that item publishes ``DecisionRecorded`` (see app).

Idempotent twice over: the platform consumer skips an event id it has applied, and
a proposal already on an Executive agenda is not placed again, even when it
arrives under a new event id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mhin.projects.v1 import selection_events_pb2
from mhin_governance import app, convert, domain, store
from mhin_platform.events import topic_names
from mhin_platform.events.consumer import Handler
from mhin_platform.events.envelope import Event
from mhin_platform.runtime import ConsumerSpec

SELECTION_TOPIC = topic_names.PROJECTS_SELECTION


def on_selection_proposed(session: Session, event: Event,
                          message: selection_events_pb2.SelectionProposed) -> None:
    proposal = convert.proposal_from_event(message)  # bad data is dead-lettered
    if store.on_agenda_of(session, domain.EXECUTIVE_ID, proposal.ref):
        return
    now = datetime.now(UTC)
    app.place_on_executive_agenda(session, domain.proposal_agenda_item(proposal), now.date(),
                                  now)


CONSUMERS = (ConsumerSpec(
    name="selection",
    topics=[SELECTION_TOPIC],
    handlers=[Handler(selection_events_pb2.SelectionProposed, on_selection_proposed)],
),)
