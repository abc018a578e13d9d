"""What project-tracking's integration tests share: the real service on a real
port, real events published onto the topics it consumes (catalogue solutions,
governance decisions), callers and request builders."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from mhin.catalogue.v1 import events_pb2 as catalogue_events
from mhin.catalogue.v1 import solution_pb2
from mhin.common.v1 import arc_pb2, ids_pb2, organisation_pb2, period_pb2, priority_area_pb2
from mhin.governance.v1 import decision_events_pb2
from mhin.projects.v1 import (
    projects_service_pb2,
    projects_service_pb2_grpc,
    selection_pb2,
    selection_service_pb2,
    selection_service_pb2_grpc,
)
from mhin_devkit.harness import TopicReader, caller, running_service
from mhin_devkit.harness import eventually as harness_eventually
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.runtime import ServiceRuntime
from mhin_projects.main import DEFINITION

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
SL = arc_pb2.ARC_SOUTH_LONDON
INEQUALITIES = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
NHS_TRUST = organisation_pb2.ORGANISATION_TYPE_NHS_TRUST
VCSE = organisation_pb2.ORGANISATION_TYPE_VCSE
LOCAL_AUTHORITY = organisation_pb2.ORGANISATION_TYPE_LOCAL_AUTHORITY
SELECTION_PROPOSAL = selection_pb2.SelectionProposal.DESCRIPTOR.full_name
WAIT_SECONDS = 30.0


def pb_date(value: date) -> period_pb2.Date:
    return period_pb2.Date(year=value.year, month=value.month, day=value.day)


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def start_service(tmp_path, kafka_bootstrap, declared_topics_created
                  ) -> Iterator[Callable[..., ServiceRuntime]]:
    """Factory: start project-tracking (default: on this test's SQLite file). Each
    test's service has its own consumer groups, so it reads the topics as a fresh
    deployment does; starting it again after ``runtime.stop()`` resumes where it
    stopped, as a restarted process does."""
    group = f"project-tracking-{uuid.uuid4().hex[:8]}"
    default_url = f"sqlite:///{tmp_path}/projects.db"
    with ExitStack() as stack:
        yield lambda database_url=default_url: stack.enter_context(running_service(
            DEFINITION, database_url=database_url, kafka_bootstrap=kafka_bootstrap,
            service_name=group))


@pytest.fixture(scope="module")
def module_runtime(tmp_path_factory, kafka_bootstrap, declared_topics_created
                   ) -> Iterator[ServiceRuntime]:
    """One service for a whole test module (tests that do not need a fresh one)."""
    folder = tmp_path_factory.mktemp("project-tracking")
    with running_service(DEFINITION, database_url=f"sqlite:///{folder}/projects.db",
                         kafka_bootstrap=kafka_bootstrap,
                         service_name=f"project-tracking-{uuid.uuid4().hex[:8]}") as runtime:
        yield runtime


@pytest.fixture(scope="module")
def module_service(module_runtime) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{module_runtime.port}") as channel:
        yield channel


def projects_api(channel: grpc.Channel, role: str = "national_admin", arc: str | None = None):
    return caller(channel, projects_service_pb2_grpc.ProjectsServiceStub, role, arc)


def selection_api(channel: grpc.Channel, role: str = "national_admin", arc: str | None = None):
    return caller(channel, selection_service_pb2_grpc.SelectionServiceStub, role, arc)


@pytest.fixture(scope="session")
def producer(kafka_bootstrap):
    producer = create_producer(kafka_bootstrap, client_id="project-tracking-tests")
    yield producer
    producer.close()


@pytest.fixture(scope="session")
def publish_event(producer) -> Callable[..., str]:
    """Publish ``message`` as a real CloudEvent; returns its ce_id. Pass ``event_id``
    to publish the same event again (a redelivery)."""
    def publish_one(topic: str, key: str, message: Message, event_id: str = "") -> str:
        event = new_event(topic=topic, key=key, source="/mhin/tests", message=message)
        if event_id:
            event = dataclasses.replace(event, id=event_id)
        publish(producer, [event])
        return event.id
    return publish_one


def solution(solution_id: str = "", version: int = 1, **changes: Any) -> solution_pb2.Solution:
    fields: dict[str, Any] = {
        "id": solution_id or f"solution-{uuid.uuid4().hex[:8]}",
        "name": "Patient and Carer Race Equality Framework",
        "description": "An anti-racism framework for mental health trusts.",
        "priority_areas": [INEQUALITIES],
        "readiness": solution_pb2.READINESS_READY,
        "status": solution_pb2.SOLUTION_STATUS_ACTIVE,
        "version": version,
    }
    fields.update(changes)
    return solution_pb2.Solution(**fields)


@pytest.fixture(scope="session")
def catalogue(publish_event) -> Callable[..., str]:
    """Publish a catalogue solution event (default SolutionCatalogued) as the
    solution-catalogue service does; returns the event id."""
    def publish_solution(snapshot: solution_pb2.Solution,
                         kind: type[Message] = catalogue_events.SolutionCatalogued) -> str:
        return publish_event("mhin.catalogue.solution", snapshot.id, kind(solution=snapshot))
    return publish_solution


def decision(proposal_id: str, outcome: int = decision_events_pb2.DECISION_OUTCOME_APPROVED,
             body_kind: int = decision_events_pb2.BODY_KIND_EXECUTIVE,
             decision_id: str = "", **changes: Any) -> decision_events_pb2.DecisionRecorded:
    message = decision_events_pb2.DecisionRecorded(
        decision_id=decision_id or str(uuid.uuid4()),
        body_id="executive-committee",
        body_kind=body_kind,
        meeting_id="meeting-2026-05",
        motion="Approve the ARCs proposed for the call",
        outcome=outcome,
        subject=ids_pb2.AggregateRef(aggregate_type=SELECTION_PROPOSAL, aggregate_id=proposal_id),
        **changes,
    )
    message.decided_at.FromDatetime(datetime.now(UTC))
    return message


@pytest.fixture(scope="session")
def governance(publish_event) -> Callable[..., str]:
    """Publish a DecisionRecorded as the governance service does; returns the event id."""
    def record(message: decision_events_pb2.DecisionRecorded, event_id: str = "") -> str:
        return publish_event("mhin.governance.decision", message.decision_id, message, event_id)
    return record


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy (events are applied
    asynchronously); fail saying ``what`` never happened."""
    return harness_eventually(check, what, timeout)


@pytest.fixture(scope="session")
def known_solution() -> Callable[..., projects_service_pb2.KnownSolution]:
    """Wait until the service's read model holds ``solution_id`` at ``version``."""
    def wait(api, solution_id: str, version: int = 1) -> projects_service_pb2.KnownSolution:
        def find():
            page = api.ListSolutions(projects_service_pb2.ListSolutionsRequest(
                page={"page_size": 200}))
            return next((s for s in page.solutions
                         if s.id == solution_id and s.version == version), None)
        return eventually(find, f"solution {solution_id} v{version} is known")
    return wait


@pytest.fixture
def topic(kafka_bootstrap) -> Iterator[Callable[[str], TopicReader]]:
    """Factory of readers that see only what is published from now on."""
    readers: list[TopicReader] = []

    def reader(name: str) -> TopicReader:
        readers.append(TopicReader(kafka_bootstrap, name))
        return readers[-1]

    yield reader
    for opened in readers:
        opened.close()


def call_draft(solution_id: str, **changes: Any) -> selection_service_pb2.CallDraft:
    fields: dict[str, Any] = {
        "solution_id": solution_id,
        "priority_area": INEQUALITIES,
        "title": "Expressions of interest: PCREF",
        "description": "ARCs with local partners to implement PCREF.",
        "deadline": pb_date(today() + timedelta(days=30)),
        "criteria": [selection_pb2.ScoringCriterion(name="Local partnerships", weight=60),
                     selection_pb2.ScoringCriterion(name="Readiness", weight=40)],
    }
    fields.update(changes)
    return selection_service_pb2.CallDraft(**fields)


def application_draft(arc: int = GM, **changes: Any) -> selection_service_pb2.ApplicationDraft:
    name = arc_pb2.Arc.Name(arc).removeprefix("ARC_").replace("_", " ").title()
    fields: dict[str, Any] = {
        "arc": arc,
        "local_partners": [selection_pb2.Partner(name=f"{name} Mental Health NHS FT",
                                                 type=NHS_TRUST),
                           selection_pb2.Partner(name=f"{name} Council", type=LOCAL_AUTHORITY),
                           selection_pb2.Partner(name=f"{name} Mind", type=VCSE)],
        "proposed_sites": [selection_pb2.ProposedSite(
            name=f"{name} community team", organisation_name=f"{name} Mental Health NHS FT",
            organisation_type=NHS_TRUST)],
        "rationale": f"{name} has strong community partnerships.",
    }
    fields.update(changes)
    return selection_service_pb2.ApplicationDraft(**fields)


@pytest.fixture
def proposed_selection(catalogue, known_solution) -> Callable[..., tuple[Any, Any]]:
    """Through the API: a solution known, a call opened, GM, YH and SL applying,
    the call closed and GM + YH proposed. Returns (call, proposal)."""
    def propose(channel: grpc.Channel, solution_id: str = "") -> tuple[Any, Any]:
        admin = selection_api(channel)
        snapshot = solution(solution_id)
        catalogue(snapshot)
        known_solution(projects_api(channel), snapshot.id)
        call = admin.OpenCall(selection_service_pb2.OpenCallRequest(
            call=call_draft(snapshot.id))).call
        for arc, slug in ((GM, "greater-manchester"), (YH, "yorkshire-and-humber"),
                          (SL, "south-london")):
            selection_api(channel, "arc_member", slug).SubmitApplication(
                selection_service_pb2.SubmitApplicationRequest(
                    call_id=call.id, application=application_draft(arc)))
        admin.CloseCall(selection_service_pb2.CloseCallRequest(call_id=call.id))
        response = admin.ProposeSelection(selection_service_pb2.ProposeSelectionRequest(
            call_id=call.id, proposed_arcs=[GM, YH],
            rationale="The strongest partnerships and ready sites."))
        return response.call, response.proposal
    return propose


class Make:
    """Builders and callers for the test modules (which cannot import this conftest)."""

    date = staticmethod(pb_date)
    today = staticmethod(today)
    solution = staticmethod(solution)
    decision = staticmethod(decision)
    call_draft = staticmethod(call_draft)
    application_draft = staticmethod(application_draft)
    projects_api = staticmethod(projects_api)
    selection_api = staticmethod(selection_api)
    eventually = staticmethod(eventually)


@pytest.fixture(scope="session")
def make() -> type[Make]:
    return Make
