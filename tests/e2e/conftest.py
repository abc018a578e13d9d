"""What the end-to-end tests share: the platform started for real and driven only
through its public interfaces.

- Each gRPC service runs its whole runtime in-process (migrations, outbox relay,
  consumers, gRPC on a free port) on its own SQLite file; started again under the
  same name it resumes on the same database and consumer groups, as a restarted
  process does.
- The stream processors run as their own process (``python -m mhin_aggregator``) on
  the declared topics.
- The test's platform sees what is published from the moment the test began: the
  test opens its readers of the real topics before it acts, and each consumer group
  of its services (new groups, named after the test) starts at the offsets the
  topics had when the test began, as an operator places a new group
  (``kafka-consumer-groups --reset-offsets``). Without that, a new group would first
  replay the whole session's history: after the evaluation suite's 10,000
  observations, some 240,000 aggregate records, minutes of work unrelated to the test.
- An ARC's own instance of an ARC-data service is started by its process name
  (``evaluation-greater-manchester``, as ``arc_instances`` names it): the service
  under that name, so with consumer groups and a database of its own, and with
  ``instance_arc`` set.
- ``Selection`` holds the steps of the selection saga, made through the services'
  APIs, that both the storyline and the saga tests take.

Nothing here reaches into a service: only each ``main.DEFINITION`` is imported, to
start it. Waits poll with a deadline; none is an assertion about speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, NoError
from kafka.structs import OffsetAndMetadata

from mhin.catalogue.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    prioritisation_pb2_grpc,
    solution_pb2,
)
from mhin.common.v1 import arc_pb2, ids_pb2, organisation_pb2, priority_area_pb2
from mhin.evaluation.v1 import evaluation_pb2_grpc
from mhin.governance.v1 import decision_events_pb2, governance_pb2, governance_pb2_grpc
from mhin.needs.v1 import needs_pb2_grpc
from mhin.projects.v1 import (
    projects_service_pb2,
    projects_service_pb2_grpc,
    selection_events_pb2,
    selection_pb2,
    selection_service_pb2,
    selection_service_pb2_grpc,
)
from mhin_catalogue.main import DEFINITION as CATALOGUE
from mhin_devkit.harness import Caller, TopicReader, caller, running_service
from mhin_devkit.harness import eventually as harness_eventually
from mhin_evaluation.main import DEFINITION as EVALUATION
from mhin_governance.main import DEFINITION as GOVERNANCE
from mhin_needs.main import DEFINITION as NEEDS
from mhin_platform.processes import PLATFORM, arc_instances
from mhin_platform.protoconv import date_to_proto
from mhin_platform.reference import Arc
from mhin_platform.runtime import ServiceDefinition
from mhin_projects.main import DEFINITION as PROJECTS

WAIT_SECONDS = 60.0
GM, YH = arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER
ARC_SLUGS = {GM: "greater-manchester", YH: "yorkshire-and-humber"}
REGIONS = {GM: "Greater Manchester", YH: "Yorkshire and Humber"}
INEQUALITIES = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
NHS_TRUST = organisation_pb2.ORGANISATION_TYPE_NHS_TRUST
LOCAL_AUTHORITY = organisation_pb2.ORGANISATION_TYPE_LOCAL_AUTHORITY
VCSE = organisation_pb2.ORGANISATION_TYPE_VCSE
SELECTION_PROPOSAL = "mhin.projects.v1.SelectionProposal"
CALL_CRITERIA = (("Local partnerships", 60.0), ("Readiness", 40.0))

SERVICES: dict[str, ServiceDefinition] = {
    "needs-intake": NEEDS,
    "solution-catalogue": CATALOGUE,
    "project-tracking": PROJECTS,
    "governance": GOVERNANCE,
    "evaluation": EVALUATION,
}
# Every ARC's own instances: process name -> (the service, the instance's ARC).
_COMMANDS = {spec.command: spec.name for spec in PLATFORM}
ARC_INSTANCES: dict[str, tuple[str, Arc]] = {
    spec.name: (_COMMANDS[spec.command], Arc[spec.env["MHIN_INSTANCE_ARC"]])
    for spec in arc_instances(list(Arc))}
OBSERVATION_TOPIC = "mhin.evaluation.observation"  # what the stream processors consume
CONSUMED_TOPICS = sorted({topic for definition in SERVICES.values()
                          for consumer in definition.consumers for topic in consumer.topics}
                         | {OBSERVATION_TOPIC})
# Each public API: the service serving it and its stub.
APIS: dict[str, tuple[str, type]] = {
    "needs": ("needs-intake", needs_pb2_grpc.NeedsServiceStub),
    "solutions": ("solution-catalogue", catalogue_pb2_grpc.SolutionCatalogueServiceStub),
    "prioritisation": ("solution-catalogue", prioritisation_pb2_grpc.PrioritisationServiceStub),
    "selection": ("project-tracking", selection_service_pb2_grpc.SelectionServiceStub),
    "projects": ("project-tracking", projects_service_pb2_grpc.ProjectsServiceStub),
    "governance": ("governance", governance_pb2_grpc.GovernanceServiceStub),
    "evaluation": ("evaluation", evaluation_pb2_grpc.EvaluationServiceStub),
}


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    return harness_eventually(check, what, timeout, interval=0.2)


def retried(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, or None after a retriable Kafka error (e.g. no group
    coordinator yet on a new broker): for use inside ``eventually``."""
    try:
        return call(*args)
    except KafkaError as error:
        if not error.retriable:
            raise
        return None


def short_type(event) -> str:
    return event.type.rsplit(".", 1)[1]


class EventLog(TopicReader):
    """A topic read from the moment it was opened, by aggregate (record key)."""

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = WAIT_SECONDS,
                 what: str = "events") -> list:
        return super().wait_for(predicate, timeout, what)

    def history(self, key: str) -> list[str]:
        """The short types of the events seen under ``key``, in order (one key is
        one partition, so this is the order they were published in)."""
        return [short_type(e) for e in self.events if e.key == key]

    def wait_for_history(self, key: str, expected: list[str],
                         timeout: float = WAIT_SECONDS) -> list:
        """Wait for ``len(expected)`` events under ``key``, require exactly
        ``expected`` and return them."""
        self.wait_for(lambda events: sum(e.key == key for e in events) >= len(expected),
                      timeout, f"{expected} under key {key}")
        assert self.history(key) == expected
        return [e for e in self.events if e.key == key]


class StreamProcessors:
    """The faust stream processors as deployed: their own process on the declared
    topics, in a consumer group of their own."""

    def __init__(self, bootstrap: str, folder: Path, group: str) -> None:
        self.group = group
        self.log = folder / "stream-processors.log"
        environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith("MHIN_")},
            "MHIN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MHIN_CONSUMER_GROUP": group,
            "MHIN_DATA_DIR": str(folder / "stream-processors"),
        }
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "mhin_aggregator"], env=environment,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def require_running(self) -> None:
        if self._process.poll() is not None:
            raise AssertionError(f"the stream processors exited ({self._process.returncode}):"
                                 f"\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)


@dataclass
class _Running:
    stack: ExitStack
    channel: grpc.Channel
    address: str


class Platform:
    """The services of one test, started and stopped by name, and its topic readers."""

    def __init__(self, bootstrap: str, folder: Path) -> None:
        self.bootstrap = bootstrap
        self._folder = folder
        self._instance = uuid.uuid4().hex[:8]
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="e2e-tests")
        self._began_at = self._end_offsets(CONSUMED_TOPICS)
        self._started: set[str] = set()
        self._running: dict[str, _Running] = {}
        self._readers: list[EventLog] = []
        self._stream_processors: StreamProcessors | None = None

    def service_name(self, service: str) -> str:
        """The service's name in this test: its consumer groups are ``<name>.<consumer>``."""
        return f"e2e-{service}-{self._instance}"

    def _end_offsets(self, topics: list[str]) -> dict[TopicPartition, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            return consumer.end_offsets([TopicPartition(topic, partition) for topic in topics
                                         for partition in consumer.partitions_for_topic(topic)])
        finally:
            consumer.close()

    def _start_group_where_the_test_began(self, group: str, topics: list[str]) -> None:
        """Commit the group's offsets on ``topics`` as they were when the test began."""
        offsets = {partition: OffsetAndMetadata(offset, "", -1)
                   for partition, offset in self._began_at.items() if partition.topic in topics}

        def set_offsets() -> dict | None:
            errors = retried(self._admin.alter_group_offsets, group, offsets)
            return None if errors is None or any(e.retriable for e in errors.values()) else errors

        errors = eventually(set_offsets, f"the offsets of {group} are set")
        assert set(errors.values()) == {NoError}, errors

    def start(self, *names: str) -> None:
        """Start services or ARC instances (by process name); the first start of each
        places its new consumer groups."""
        for name in names:
            service, instance_arc = ARC_INSTANCES.get(name, (name, None))
            definition = SERVICES[service]
            if name not in self._started:
                for consumer in definition.consumers:
                    self._start_group_where_the_test_began(
                        f"{self.service_name(name)}.{consumer.name}", list(consumer.topics))
                self._started.add(name)
            stack = ExitStack()
            runtime = stack.enter_context(running_service(
                definition, database_url=f"sqlite:///{self._folder}/{name}.db",
                kafka_bootstrap=self.bootstrap, service_name=self.service_name(name),
                instance_arc=instance_arc))
            address = f"127.0.0.1:{runtime.port}"
            channel = stack.enter_context(grpc.insecure_channel(address))
            self._running[name] = _Running(stack, channel, address)

    def stop(self, service: str) -> None:
        """Stop as a process does on SIGTERM: calls finish, the outbox is drained."""
        self._running.pop(service).stack.close()

    def api(self, name: str, role: str = "national_admin", arc: int | None = None,
            instance: str | None = None) -> Caller:
        """``name`` (a key of APIS) called as ``role`` of ``arc`` (an Arc enum value),
        on the national service or on ``instance`` (an ARC instance's process name)."""
        service, stub = APIS[name]
        return caller(self._running[instance or service].channel, stub, role,
                      ARC_SLUGS[arc] if arc is not None else None)

    def address(self, name: str) -> str:
        """host:port of a running service or ARC instance, for clients such as the CLI."""
        return self._running[name].address

    def read(self, topic: str) -> EventLog:
        self._readers.append(EventLog(self.bootstrap, topic))
        return self._readers[-1]

    def start_stream_processors(self) -> StreamProcessors:
        group = f"e2e-stream-processors-{self._instance}"
        self._start_group_where_the_test_began(group, [OBSERVATION_TOPIC])
        self._stream_processors = StreamProcessors(self.bootstrap, self._folder, group)
        return self._stream_processors

    def wait_until_consumed(self, service: str, consumer: str, record) -> None:
        """Wait until the service's consumer group has committed past ``record``: the
        platform's consumers commit a record's offset only once it is applied."""
        group = f"{self.service_name(service)}.{consumer}"
        partition = TopicPartition(record.topic, record.partition)

        def committed() -> int:
            offsets = retried(self._admin.list_group_offsets, {group: [partition]}) or {}
            return offsets[group][partition].offset if partition in offsets.get(group, {}) else -1

        eventually(lambda: committed() > record.offset,
                   f"{group} consumed {record.topic}:{record.partition}@{record.offset}")

    def close(self) -> None:
        if self._stream_processors is not None:
            self._stream_processors.stop()
        for service in reversed(list(self._running)):
            self.stop(service)
        for reader in self._readers:
            reader.close()
        self._admin.close()


@pytest.fixture
def platform(kafka_bootstrap, declared_topics_created, tmp_path) -> Iterator[Platform]:
    running = Platform(kafka_bootstrap, tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def module_platform(kafka_bootstrap, declared_topics_created,
                    tmp_path_factory) -> Iterator[Platform]:
    """One platform for a whole module, for suites whose tests share seeded data
    (the browser tests): started once, as expensive as it is."""
    running = Platform(kafka_bootstrap, tmp_path_factory.mktemp("platform"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def platform_on(tmp_path) -> Iterator[Callable[[str], Platform]]:
    """``platform_on(bootstrap)``: a platform on brokers of the test's choosing (a
    cluster whose declared topics it created)."""
    started: list[Platform] = []

    def start(bootstrap: str) -> Platform:
        folder = tmp_path / f"platform-{len(started)}"
        folder.mkdir()
        started.append(Platform(bootstrap, folder))
        return started[-1]

    yield start
    for running in started:
        running.close()


def utc_now() -> datetime:
    return datetime.now(UTC)


class Selection:
    """The selection saga's steps through the APIs of the catalogue, project-tracking
    and governance, as the national team and the ARCs take them."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @staticmethod
    def application(arc: int, sites: list[tuple[str, str]]
                    ) -> selection_service_pb2.ApplicationDraft:
        """An ARC's application with its trust, council and VCSE partners and
        ``sites`` as (site name, host trust) pairs."""
        region = REGIONS[arc]
        trusts = dict.fromkeys(host for _, host in sites)
        return selection_service_pb2.ApplicationDraft(
            arc=arc,
            local_partners=[selection_pb2.Partner(name=host, type=NHS_TRUST) for host in trusts]
            + [selection_pb2.Partner(name=f"{region} Council", type=LOCAL_AUTHORITY),
               selection_pb2.Partner(name=f"{region} Mind", type=VCSE)],
            proposed_sites=[selection_pb2.ProposedSite(name=name, organisation_name=host,
                                                       organisation_type=NHS_TRUST)
                            for name, host in sites],
            rationale=f"{region}: trusts and community partners ready to start.")

    def catalogue_solution(self, name: str) -> solution_pb2.Solution:
        draft = catalogue_pb2.SolutionDraft(
            name=name, description="An organisational competency framework for "
            "anti-racist mental health care, co-produced with patients and carers.",
            priority_areas=[INEQUALITIES],
            evidence=solution_pb2.Evidence(level=solution_pb2.EVIDENCE_LEVEL_SERVICE_EVALUATION,
                                           summary="NHS England PCREF pilots, 2020-2023."),
            readiness=solution_pb2.READINESS_READY, setting="mental health trusts",
            target_population="people from minority ethnic communities")
        return self.platform.api("solutions").CatalogueSolution(
            catalogue_pb2.CatalogueSolutionRequest(solution=draft)).solution

    def known_to_project_tracking(self, solution: solution_pb2.Solution
                                  ) -> projects_service_pb2.KnownSolution:
        """Wait until project-tracking's read model holds the solution as it is now."""
        api = self.platform.api("projects", "viewer")

        def known() -> projects_service_pb2.KnownSolution | None:
            listed = api.ListSolutions(projects_service_pb2.ListSolutionsRequest(
                page={"page_size": 200})).solutions
            return next((s for s in listed if (s.id, s.version) == (solution.id,
                                                                    solution.version)), None)

        return eventually(known, f"project-tracking knows {solution.name} v{solution.version}")

    def propose(self, solution_id: str, applications: list[selection_service_pb2.ApplicationDraft]
                ) -> tuple[selection_pb2.SelectionCall, selection_pb2.SelectionProposal]:
        """Open a call, each ARC applies through its own member, close the call, score
        the applications (the first highest) and propose every applicant."""
        admin = self.platform.api("selection")
        call = admin.OpenCall(selection_service_pb2.OpenCallRequest(
            call=selection_service_pb2.CallDraft(
                solution_id=solution_id, priority_area=INEQUALITIES,
                title="Expressions of interest: race equality in mental health care",
                deadline=date_to_proto((utc_now() + timedelta(days=30)).date()),
                criteria=[selection_pb2.ScoringCriterion(name=name, weight=weight)
                          for name, weight in CALL_CRITERIA]))).call
        for draft in applications:
            self.platform.api("selection", "arc_member", draft.arc).SubmitApplication(
                selection_service_pb2.SubmitApplicationRequest(call_id=call.id,
                                                               application=draft))
        closed = admin.CloseCall(selection_service_pb2.CloseCallRequest(call_id=call.id)).call
        for rank, submitted in enumerate(closed.applications):
            admin.ScoreApplication(selection_service_pb2.ScoreApplicationRequest(
                call_id=call.id, application_id=submitted.id,
                scores=[selection_pb2.CriterionScore(criterion=name, score=80 - 10 * rank)
                        for name, _ in CALL_CRITERIA]))
        proposed = admin.ProposeSelection(selection_service_pb2.ProposeSelectionRequest(
            call_id=call.id, proposed_arcs=[draft.arc for draft in applications],
            rationale="Both ARCs bring trusts ready to start and strong community partners."))
        return proposed.call, proposed.proposal

    def executive_meeting_today(self) -> governance_pb2.Meeting:
        """The Executive's meeting today, scheduled now unless it already meets today
        by its bi-monthly rule (a meeting governance may have scheduled itself)."""
        api = self.platform.api("governance")
        day = date_to_proto(utc_now().date())
        try:
            return api.ScheduleMeeting(governance_pb2.ScheduleMeetingRequest(
                body_id="executive", date=day, title="Executive committee")).meeting
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            return api.ListMeetings(governance_pb2.ListMeetingsRequest(
                body_id="executive", from_date=day, to_date=day)).meetings[0]

    def make_quorate(self, meeting_id: str) -> governance_pb2.Meeting:
        """The Executive's chair, a member and an Expert by Experience join; the chair
        and the member attend: 2 of 3 voting members with the chair is quorate."""
        api = self.platform.api("governance")
        start = date_to_proto((utc_now() - timedelta(days=365)).date())
        members = [api.AddMember(governance_pb2.AddMemberRequest(
            body_id="executive", name=name, role=role, term_start=start)).member
            for name, role in (("Programme lead", governance_pb2.MEMBER_ROLE_CHAIR),
                               ("ARC director", governance_pb2.MEMBER_ROLE_MEMBER),
                               ("Expert by experience",
                                governance_pb2.MEMBER_ROLE_EXPERT_BY_EXPERIENCE))]
        return api.RecordAttendance(governance_pb2.RecordAttendanceRequest(
            meeting_id=meeting_id, member_ids=[m.id for m in members[:2]])).meeting

    def on_executive_agenda(self, proposal_id: str
                            ) -> tuple[governance_pb2.Meeting, governance_pb2.AgendaItem]:
        """Wait until governance has put the proposal on an Executive meeting's agenda."""
        api = self.platform.api("governance", "viewer")
        subject = ids_pb2.AggregateRef(aggregate_type=SELECTION_PROPOSAL,
                                       aggregate_id=proposal_id)

        def placed() -> tuple[governance_pb2.Meeting, governance_pb2.AgendaItem] | None:
            meetings = api.ListMeetings(governance_pb2.ListMeetingsRequest(
                body_id="executive", page={"page_size": 200})).meetings
            return next(((m, item) for m in meetings for item in m.agenda
                         if item.subject == subject), None)

        return eventually(placed, f"proposal {proposal_id} is on an Executive agenda")

    def decide(self, meeting_id: str, item_id: str,
               outcome: int = decision_events_pb2.DECISION_OUTCOME_APPROVED
               ) -> governance_pb2.Decision:
        return self.platform.api("governance").RecordDecision(
            governance_pb2.RecordDecisionRequest(
                meeting_id=meeting_id, agenda_item_id=item_id, outcome=outcome,
                motion="That the ARCs proposed be selected to implement the solution."
            )).decision

    @staticmethod
    def finalised(reader: EventLog, call_id: str) -> selection_events_pb2.SelectionFinalised:
        """Wait for project-tracking's SelectionFinalised of the call."""
        def found():
            return next((e for e in reader.events if e.key == call_id
                         and short_type(e) == "SelectionFinalised"), None)

        reader.wait_for(lambda _: found() is not None, WAIT_SECONDS,
                        f"SelectionFinalised of call {call_id}")
        return found().decode(selection_events_pb2.SelectionFinalised)


@pytest.fixture(name="eventually", scope="session")
def eventually_fixture() -> Callable[..., Any]:
    """``eventually(check, what, timeout=60)`` for the test modules."""
    return eventually


@pytest.fixture
def selection(platform) -> Selection:
    return Selection(platform)
