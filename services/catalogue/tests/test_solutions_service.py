"""The solution catalogue through a real gRPC server on a real port, a real broker and
a real database: every RPC, its events on the topic, the copy of needs built from
real needs-intake events (across a restart), bad input, permissions."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import grpc
import pytest
from sqlalchemy import create_engine, select

from mhin.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc, events_pb2, solution_pb2
from mhin.common.v1 import arc_pb2, priority_area_pb2
from mhin.needs.v1 import events_pb2 as need_events_pb2
from mhin.needs.v1 import needs_pb2
from mhin_catalogue.reference import REFERENCE_SOLUTIONS
from mhin_devkit.harness import TopicReader, caller
from mhin_platform.events.dead_letter import REASON_HEADER
from mhin_platform.events.envelope import Event, new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.events.tables import processed_events

pytestmark = pytest.mark.integration

CYP = priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE
INEQUALITIES = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
COMORBIDITIES = priority_area_pb2.PRIORITY_AREA_COMORBIDITIES
ACTIVE = solution_pb2.SOLUTION_STATUS_ACTIVE


@pytest.fixture
def topic(kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, "mhin.catalogue.solution")
    yield reader
    reader.close()


@pytest.fixture
def add(admin, draft):
    def catalogue(**changes) -> solution_pb2.Solution:
        return admin.CatalogueSolution(
            catalogue_pb2.CatalogueSolutionRequest(solution=draft(**changes))).solution
    return catalogue


@pytest.fixture
def known(admin, eventually):
    """``known(need, version)``: wait until the catalogue's copy of ``need`` is at
    ``version`` (it follows need events asynchronously); the copy."""
    def wait(need: needs_pb2.Need, version: int | None = None) -> catalogue_pb2.NeedSummary:
        def copy():
            try:
                found = admin.ListCandidateSolutions(
                    catalogue_pb2.ListCandidateSolutionsRequest(need_id=need.id)).need
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND, exc.details()
                return None
            return found if found.version == (version or need.version) else None
        return eventually(copy, f"the catalogue to know need {need.title!r}")
    return wait


@pytest.fixture(scope="module")
def shared_admin(shared_catalogue):
    return caller(shared_catalogue, catalogue_pb2_grpc.SolutionCatalogueServiceStub,
                  "national_admin")


def unique(name: str) -> str:
    """A name no other test's solution has (for tests sharing a catalogue)."""
    return f"{name} {uuid.uuid4().hex[:8]}"


def not_seeded(events: list[Event]) -> list[Event]:
    """``events`` without those of the reference solutions, which every catalogue a
    test starts seeds and publishes whenever its relay gets to them."""
    return [event for event in events if event.key not in REFERENCE_SOLUTIONS]


def solution_count(api) -> int:
    return len(api.ListSolutions(catalogue_pb2.ListSolutionsRequest(
        page={"page_size": 200})).solutions)


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def unmet(api, **request) -> list[str]:
    """Titles of every unmet need, following the pages."""
    titles, token = [], ""
    while True:
        page = api.ListUnmetNeeds(catalogue_pb2.ListUnmetNeedsRequest(
            page={"page_size": 2, "page_token": token}, **request))
        titles += [need.title for need in page.needs]
        if not (token := page.page.next_page_token):
            return titles


def test_the_life_of_a_solution_and_its_events(admin, add, draft, topic, submit_need, known):
    solution = add()
    assert (solution.status, solution.version) == (solution_pb2.SOLUTION_STATUS_ACTIVE, 1)
    assert admin.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution.id)).solution == solution

    revised = admin.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
        solution_id=solution.id, expected_version=1,
        solution=draft(readiness=solution_pb2.READINESS_NEEDS_ADAPTATION))).solution
    assert (revised.readiness, revised.version) == (solution_pb2.READINESS_NEEDS_ADAPTATION, 2)
    stale = rpc_error(lambda: admin.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
        solution_id=solution.id, expected_version=1, solution=draft())))
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "version 2, not 1" in stale.details()

    need = submit_need("Long waits for child anxiety treatment", CYP)
    known(need)
    link = catalogue_pb2.LinkSolutionToNeedRequest(solution_id=solution.id, need_id=need.id)
    linked = admin.LinkSolutionToNeed(link).solution
    assert list(linked.need_ids) == [need.id]
    assert admin.LinkSolutionToNeed(link).solution == linked  # linking twice: no change
    unlinked = admin.UnlinkSolutionFromNeed(catalogue_pb2.UnlinkSolutionFromNeedRequest(
        solution_id=solution.id, need_id=need.id)).solution
    assert list(unlinked.need_ids) == []

    retired = admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(
        solution_id=solution.id, reason="superseded by a newer model")).solution
    assert (retired.status, retired.version) == (solution_pb2.SOLUTION_STATUS_RETIRED, 5)
    again = rpc_error(lambda: admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(
        solution_id=solution.id, reason="again")))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION

    events = not_seeded(topic.wait_for(lambda seen: len(not_seeded(seen)) >= 5))
    assert [e.type.rsplit(".", 1)[1] for e in events] == [
        "SolutionCatalogued", "SolutionRevised", "SolutionLinkedToNeed",
        "SolutionUnlinkedFromNeed", "SolutionRetired"]
    assert {e.key for e in events} == {solution.id}
    headers = dict([r for r in topic.records if r.key == solution.id.encode()][2].headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/mhin/solution-catalogue"
    assert headers["ce_subject"] == solution.id.encode()
    assert headers["content-type"] == b"application/protobuf"
    linked_event = events[2].decode(events_pb2.SolutionLinkedToNeed)
    assert (linked_event.solution, linked_event.need_id) == (linked, need.id)
    assert [events[i].decode(type_).solution.version for i, type_ in enumerate(
        (events_pb2.SolutionCatalogued, events_pb2.SolutionRevised,
         events_pb2.SolutionLinkedToNeed, events_pb2.SolutionUnlinkedFromNeed,
         events_pb2.SolutionRetired))] == [1, 2, 3, 4, 5]
    assert len(not_seeded(topic.settle())) == 5, "no-op calls publish nothing"


@contextmanager
def admin_of(runtime):
    with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
        yield caller(channel, catalogue_pb2_grpc.SolutionCatalogueServiceStub, "national_admin")


def test_the_reference_solutions_are_catalogued_once_and_then_left_alone(start_catalogue,
                                                                          topic):
    def get(api, solution_id):
        return api.GetSolution(catalogue_pb2.GetSolutionRequest(solution_id=solution_id)).solution

    def catalogued_here(events):  # other tests' catalogues seed the same ids
        return [e for e in events if e.type == "mhin.catalogue.v1.SolutionCatalogued"
                and e.key in seeded and e.decode(events_pb2.SolutionCatalogued).solution
                == seeded[e.key]]

    runtime = start_catalogue()
    with admin_of(runtime) as admin:
        seeded = {solution_id: get(admin, solution_id) for solution_id in REFERENCE_SOLUTIONS}
        assert {s.name: (s.version, s.status) for s in seeded.values()} == {
            "Patient and Carer Race Equality Framework (PCREF)": (1, ACTIVE),
            "Parent-led CBT for child anxiety": (1, ACTIVE),
            "Alcohol Assertive Outreach Treatment (AAOT)": (1, ACTIVE)}
        topic.wait_for(lambda seen: len(catalogued_here(seen)) == 3, what="the seeds' events")

        duplicate = rpc_error(lambda: admin.CatalogueSolution(
            catalogue_pb2.CatalogueSolutionRequest(solution=solution_draft_named(
                " parent-led CBT for child ANXIETY", admin, seeded["solution-parent-led-cbt"]))))
        assert duplicate.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "solution-parent-led-cbt" in duplicate.details()
        revised = admin.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
            solution_id="solution-pcref", solution=solution_draft_named(
                "PCREF", admin, seeded["solution-pcref"]))).solution
    runtime.stop()

    with admin_of(start_catalogue()) as admin:
        assert {solution_id: get(admin, solution_id) for solution_id in seeded} == {
            **seeded, "solution-pcref": revised}, "a restart changes nothing"
    assert len(catalogued_here(topic.settle())) == 3, "nor publishes anything again"


def test_list_searches_filters_and_pages(admin, add):
    add(name="Parent-led CBT", description="Therapy delivered through parents (100% guided)")
    add(name="PCREF", description="Patient and carer race equality framework",
        priority_areas=[INEQUALITIES],
        evidence=solution_pb2.Evidence(level=solution_pb2.EVIDENCE_LEVEL_SERVICE_EVALUATION))
    add(name="Alcohol assertive outreach", description="Outreach to frequent attenders",
        priority_areas=[COMORBIDITIES], readiness=solution_pb2.READINESS_EMERGING)
    retired = add(name="Guided self-help", description="Workbook with support (cbt based)")
    admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(solution_id=retired.id,
                                                             reason="replaced"))

    def listed(**filters):
        found, token = [], ""
        while True:
            page = admin.ListSolutions(catalogue_pb2.ListSolutionsRequest(
                page={"page_size": 2, "page_token": token}, **filters))
            found += page.solutions
            if not (token := page.page.next_page_token):
                return found

    def names(**filters):  # of this test's solutions
        return [s.name for s in listed(**filters) if s.id not in REFERENCE_SOLUTIONS]

    assert [s.name for s in listed()] == [
        "Alcohol assertive outreach", "Alcohol Assertive Outreach Treatment (AAOT)",
        "Guided self-help", "Parent-led CBT", "Parent-led CBT for child anxiety",
        "Patient and Carer Race Equality Framework (PCREF)", "PCREF"]
    assert {s.id for s in listed()} >= set(REFERENCE_SOLUTIONS)  # seeded with their own ids
    assert names(text="CBT") == ["Guided self-help", "Parent-led CBT"]
    assert names(text="race EQUALITY") == ["PCREF"]
    assert names(text="100%") == ["Parent-led CBT"]  # % is text, not a wildcard
    assert names(text="0%") == ["Parent-led CBT"]
    assert names(text="_") == []
    assert names(priority_area=COMORBIDITIES) == ["Alcohol assertive outreach"]
    assert names(readiness=solution_pb2.READINESS_EMERGING) == ["Alcohol assertive outreach"]
    assert names(evidence_level=solution_pb2.EVIDENCE_LEVEL_SERVICE_EVALUATION) == ["PCREF"]
    assert names(status=solution_pb2.SOLUTION_STATUS_RETIRED) == ["Guided self-help"]
    assert names(status=solution_pb2.SOLUTION_STATUS_ACTIVE, text="cbt") == ["Parent-led CBT"]

    first = admin.ListSolutions(catalogue_pb2.ListSolutionsRequest(page={"page_size": 1}))
    reused = rpc_error(lambda: admin.ListSolutions(catalogue_pb2.ListSolutionsRequest(
        text="cbt", page={"page_size": 1, "page_token": first.page.next_page_token})))
    assert reused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reused.details().startswith("page.page_token")


def test_candidates_and_unmet_needs_follow_need_events(admin, add, submit_need, needs_intake,
                                                       known):
    cbt = add(name="Parent-led CBT")
    pcref = add(name="PCREF", priority_areas=[INEQUALITIES, CYP])
    add(name="Alcohol assertive outreach", priority_areas=[COMORBIDITIES])
    anxiety = submit_need("Child anxiety waits", CYP)
    access = submit_need("Access for minority ethnic young people", CYP)
    loose = submit_need("Support after discharge")
    known(anxiety), known(access), known(loose)

    found = admin.ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id=anxiety.id))
    assert (found.need.title, found.need.priority_area) == ("Child anxiety waits", CYP)
    assert found.need.arc == arc_pb2.ARC_GREATER_MANCHESTER
    assert [s.name for s in found.candidate_solutions] == [
        "Parent-led CBT", "Parent-led CBT for child anxiety", "PCREF"]  # the middle one seeded
    assert list(found.linked_solutions) == []

    admin.LinkSolutionToNeed(catalogue_pb2.LinkSolutionToNeedRequest(
        solution_id=cbt.id, need_id=anxiety.id))
    found = admin.ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id=anxiety.id))
    assert [s.name for s in found.linked_solutions] == ["Parent-led CBT"]
    assert [s.name for s in found.candidate_solutions] == [
        "Parent-led CBT for child anxiety", "PCREF"]

    mine = {anxiety.title, access.title, loose.title}
    assert [t for t in unmet(admin) if t in mine] == [access.title, loose.title]
    assert [t for t in unmet(admin, priority_area=CYP) if t in mine] == [access.title]
    assert [t for t in unmet(admin, priority_area=priority_area_pb2.PRIORITY_AREA_UNCATEGORISED)
            if t in mine] == [loose.title]
    assert list(admin.ListCandidateSolutions(catalogue_pb2.ListCandidateSolutionsRequest(
        need_id=loose.id)).candidate_solutions) == []  # uncategorised: no area to look in

    # Needs-intake categorises and withdraws: the catalogue follows.
    needs_intake.CategoriseNeed(needs_pb2.CategoriseNeedRequest(
        need_id=loose.id, priority_area=COMORBIDITIES))
    known(loose, version=2)
    assert [s.name for s in admin.ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id=loose.id)).candidate_solutions] == [
        "Alcohol assertive outreach", "Alcohol Assertive Outreach Treatment (AAOT)"]
    needs_intake.WithdrawNeed(needs_pb2.WithdrawNeedRequest(need_id=access.id, reason="merged"))
    known(access, version=2)
    assert [t for t in unmet(admin) if t in mine] == [loose.title]
    withdrawn = rpc_error(lambda: admin.LinkSolutionToNeed(catalogue_pb2.LinkSolutionToNeedRequest(
        solution_id=pcref.id, need_id=access.id)))
    assert withdrawn.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "withdrawn" in withdrawn.details()

    # A retired solution no longer meets a need.
    admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(solution_id=cbt.id, reason="old"))
    assert [t for t in unmet(admin) if t in mine] == [anxiety.title, loose.title]


def test_the_copy_of_needs_catches_up_after_a_restart_and_applies_each_event_once(
        start_catalogue, submit_need, needs_intake, kafka_bootstrap, tmp_path, eventually):
    need_topic = TopicReader(kafka_bootstrap, "mhin.needs.need")
    runtime = start_catalogue()
    consumer = f"{runtime.settings.service_name}.needs"
    engine = create_engine(f"sqlite:///{tmp_path}/catalogue.db")

    def copy(runtime, need):
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            api = caller(channel, catalogue_pb2_grpc.SolutionCatalogueServiceStub, "viewer")
            try:
                return api.ListCandidateSolutions(
                    catalogue_pb2.ListCandidateSolutionsRequest(need_id=need.id)).need
            except grpc.RpcError:
                return None

    def applied() -> list[str]:
        with engine.connect() as connection:
            return list(connection.execute(select(processed_events.c.event_id).where(
                processed_events.c.consumer == consumer)).scalars())

    before = submit_need("Raised before the restart")
    eventually(lambda: copy(runtime, before), "the first need")
    runtime.stop()

    # While the catalogue is down, needs-intake carries on.
    during = submit_need("Raised while the catalogue was down", INEQUALITIES)
    needs_intake.CategoriseNeed(needs_pb2.CategoriseNeedRequest(need_id=before.id,
                                                                priority_area=CYP))
    needs_intake.WithdrawNeed(needs_pb2.WithdrawNeedRequest(need_id=during.id, reason="dup"))

    runtime = start_catalogue()  # the same database and consumer group
    withdrawn = eventually(lambda: (c := copy(runtime, during)) and c.version == 2 and c,
                           "the need raised while down, then withdrawn")
    assert withdrawn.status == needs_pb2.NEED_STATUS_WITHDRAWN
    categorised = eventually(lambda: (c := copy(runtime, before)) and c.version == 2 and c,
                             "the need categorised while down")
    assert categorised.priority_area == CYP

    # A late, older snapshot (a replay, or an event that overtook another) changes nothing.
    stale = new_event(topic="mhin.needs.need", key=before.id, source="/tests",
                      message=need_events_pb2.NeedSubmitted(need=needs_pb2.Need(
                          id=before.id, title="Stale title", arc=before.arc,
                          priority_area=INEQUALITIES, status=needs_pb2.NEED_STATUS_SUBMITTED,
                          submitted_at=before.submitted_at, version=1)))
    producer = create_producer(kafka_bootstrap, client_id="catalogue-tests")
    publish(producer, [stale])
    producer.close()
    eventually(lambda: stale.id in applied(), "the stale snapshot to be consumed")
    assert copy(runtime, before) == categorised

    # Every event about these needs was applied, each once (the consumer records an
    # event id with its effect, in one transaction, and skips ids it has recorded).
    ours = {before.id, during.id}
    events = need_topic.wait_for(lambda seen: sum(e.key in ours for e in seen) >= 5)
    ids = [e.id for e in events if e.key in ours]
    assert sorted(i for i in applied() if i in ids) == sorted(ids)
    need_topic.close()
    engine.dispose()


def test_linking_needs_the_catalogue_to_know_the_need(admin, add):
    solution = add()
    unknown = rpc_error(lambda: admin.LinkSolutionToNeed(catalogue_pb2.LinkSolutionToNeedRequest(
        solution_id=solution.id, need_id="0190f5c8-0000-7000-8000-000000000000")))
    assert unknown.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not known to the catalogue" in unknown.details()
    missing = rpc_error(lambda: admin.ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id="no-such-need")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert admin.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution.id)).solution.version == 1


def test_a_need_event_that_does_not_validate_is_dead_lettered(start_catalogue, kafka_bootstrap):
    start_catalogue()
    dead_letters = TopicReader(kafka_bootstrap, "mhin.needs.need.dlq")
    bad = new_event(topic="mhin.needs.need", key="need-with-an-unknown-arc", source="/tests",
                    message=need_events_pb2.NeedSubmitted(need=needs_pb2.Need(
                        id="need-with-an-unknown-arc", title="t", arc=99, version=1)))
    producer = create_producer(kafka_bootstrap, client_id="catalogue-tests")
    publish(producer, [bad])
    producer.close()
    [record] = _records_with_key(dead_letters, bad.key)
    assert dict(record.headers)[REASON_HEADER] == b"invalid: need.arc: unknown value 99"
    dead_letters.close()


def _records_with_key(reader: TopicReader, key: str) -> list:
    reader.wait_for(lambda _: any(r.key == key.encode() for r in reader.records),
                    what=f"a dead letter keyed {key}")
    return [r for r in reader.records if r.key == key.encode()]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "solution.name"),
        ({"name": "x" * 201}, "solution.name"),
        ({"description": "x" * 5001}, "solution.description"),
        ({"readiness": 0}, "solution.readiness"),
        ({"readiness": 99}, "solution.readiness"),
        ({"priority_areas": []}, "solution.priority_areas"),
        ({"priority_areas": [priority_area_pb2.PRIORITY_AREA_UNCATEGORISED]},
         "solution.priority_areas"),
        ({"priority_areas": [CYP, 42]}, "solution.priority_areas.1"),
        ({"evidence": solution_pb2.Evidence()}, "solution.evidence.level"),
        ({"evidence": solution_pb2.Evidence(level=solution_pb2.EVIDENCE_LEVEL_OBSERVATIONAL,
                                            nice_guidance=["see the guideline"])},
         "solution.evidence.nice_guidance.0"),
        ({"evidence": solution_pb2.Evidence(
            level=solution_pb2.EVIDENCE_LEVEL_OBSERVATIONAL,
            studies=[solution_pb2.Study(citation="Old", year=1850)])},
         "solution.evidence.studies.0.year"),
        ({"setting": "x" * 201}, "solution.setting"),
        ({"target_population": "x" * 501}, "solution.target_population"),
    ],
)
def test_bad_solutions_name_the_field_and_write_nothing(shared_admin, draft, topic, changes,
                                                        field):
    def add(**fields):
        return shared_admin.CatalogueSolution(catalogue_pb2.CatalogueSolutionRequest(
            solution=draft(**{"name": unique("Parent-led CBT"), **fields}))).solution

    before = solution_count(shared_admin)
    error = rpc_error(lambda: add(**changes))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)
    assert solution_count(shared_admin) == before
    good = add()  # the only event on the topic is this one's
    events = topic.wait_for(lambda seen: any(e.key == good.id for e in seen))
    assert [(e.type, e.key) for e in not_seeded(events)] == [
        ("mhin.catalogue.v1.SolutionCatalogued", good.id)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda api, s, d: api.RetireSolution(catalogue_pb2.RetireSolutionRequest(
            solution_id=s.id, reason=" ")), "reason"),
        (lambda api, s, d: api.RetireSolution(catalogue_pb2.RetireSolutionRequest(
            solution_id=s.id, reason="x" * 1001)), "reason"),
        (lambda api, s, d: api.LinkSolutionToNeed(catalogue_pb2.LinkSolutionToNeedRequest(
            solution_id=s.id)), "need_id"),
        (lambda api, s, d: api.UnlinkSolutionFromNeed(catalogue_pb2.UnlinkSolutionFromNeedRequest(
            solution_id="x" * 37, need_id="n")), "solution_id"),
        (lambda api, s, d: api.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
            solution_id=s.id, solution=d(description=""))), "solution.description"),
        (lambda api, s, d: api.GetSolution(catalogue_pb2.GetSolutionRequest()), "solution_id"),
        (lambda api, s, d: api.ListSolutions(catalogue_pb2.ListSolutionsRequest(text="x" * 201)),
         "text"),
        (lambda api, s, d: api.ListSolutions(catalogue_pb2.ListSolutionsRequest(status=7)),
         "status"),
        (lambda api, s, d: api.ListUnmetNeeds(catalogue_pb2.ListUnmetNeedsRequest(
            priority_area=99)), "priority_area"),
        (lambda api, s, d: api.ListUnmetNeeds(catalogue_pb2.ListUnmetNeedsRequest(
            page={"page_size": -1})), "page.page_size"),
        (lambda api, s, d: api.ListUnmetNeeds(catalogue_pb2.ListUnmetNeedsRequest(
            page={"page_token": "not-a-token"})), "page.page_token"),
    ],
)
def test_bad_requests_name_the_field_and_change_nothing(shared_admin, draft, call, field):
    solution = shared_admin.CatalogueSolution(catalogue_pb2.CatalogueSolutionRequest(
        solution=draft(name=unique("PCREF")))).solution
    error = rpc_error(lambda: call(shared_admin, solution, draft))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)
    assert shared_admin.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution.id)).solution == solution


def test_active_names_are_unique_and_a_retired_name_can_be_reused(admin, add):
    first = add(name="PCREF")
    duplicate = rpc_error(lambda: add(name="  pcref "))
    assert duplicate.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.id in duplicate.details()
    other = add(name="Parent-led CBT")
    renamed = rpc_error(lambda: admin.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
        solution_id=other.id, solution=solution_draft_named("PCREF", admin, other))))
    assert renamed.code() == grpc.StatusCode.ALREADY_EXISTS
    admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(solution_id=first.id,
                                                             reason="renamed"))
    assert add(name="PCREF").version == 1


def solution_draft_named(name, api, solution) -> catalogue_pb2.SolutionDraft:
    """``solution``'s own description under another name."""
    current = api.GetSolution(catalogue_pb2.GetSolutionRequest(solution_id=solution.id)).solution
    return catalogue_pb2.SolutionDraft(
        name=name, description=current.description, priority_areas=current.priority_areas,
        evidence=current.evidence, readiness=current.readiness, setting=current.setting,
        target_population=current.target_population)


@pytest.mark.parametrize(("role", "arc"), [("arc_member", "greater-manchester"),
                                           ("viewer", None)])
def test_only_a_national_admin_changes_the_catalogue_and_everyone_reads_it(
        shared_catalogue, shared_admin, draft, role, arc):
    solution = shared_admin.CatalogueSolution(catalogue_pb2.CatalogueSolutionRequest(
        solution=draft(name=unique("PCREF")))).solution
    api = caller(shared_catalogue, catalogue_pb2_grpc.SolutionCatalogueServiceStub, role, arc)
    assert api.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution.id)).solution == solution
    assert solution.id in [s.id for s in api.ListSolutions(catalogue_pb2.ListSolutionsRequest(
        text=solution.name)).solutions]
    for change in (
        lambda: api.CatalogueSolution(catalogue_pb2.CatalogueSolutionRequest(
            solution=draft(name="Another"))),
        lambda: api.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
            solution_id=solution.id, solution=draft(setting="elsewhere"))),
        lambda: api.RetireSolution(catalogue_pb2.RetireSolutionRequest(
            solution_id=solution.id, reason="not ours to retire")),
        lambda: api.LinkSolutionToNeed(catalogue_pb2.LinkSolutionToNeedRequest(
            solution_id=solution.id, need_id="n1")),
        lambda: api.UnlinkSolutionFromNeed(catalogue_pb2.UnlinkSolutionFromNeedRequest(
            solution_id=solution.id, need_id="n1")),
    ):
        error = rpc_error(change)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "only the national team (national_admin)" in error.details()
    anonymous = catalogue_pb2_grpc.SolutionCatalogueServiceStub(shared_catalogue)
    error = rpc_error(lambda: anonymous.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution.id)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
