"""needs-intake through a real gRPC server on a real port, a real broker and a
real database: every RPC, its events on the topic, bad input, ARC permissions."""

from __future__ import annotations

import grpc
import pytest

from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.needs.v1 import events_pb2, needs_pb2, needs_pb2_grpc
from mhin_devkit.harness import TopicReader, caller, running_service
from mhin_needs.main import DEFINITION

pytestmark = pytest.mark.integration

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER


@pytest.fixture
def service(tmp_path, kafka_bootstrap, declared_topics_created):
    with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/needs.db",
                         kafka_bootstrap=kafka_bootstrap) as runtime:
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            yield channel


@pytest.fixture
def topic(kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, "mhin.needs.need")
    yield reader
    reader.close()


def admin(channel):
    return caller(channel, needs_pb2_grpc.NeedsServiceStub, "national_admin")


def member(channel, arc="greater-manchester"):
    return caller(channel, needs_pb2_grpc.NeedsServiceStub, "arc_member", arc)


def draft(**changes) -> needs_pb2.NeedDraft:
    fields = {
        "submitter": needs_pb2.Organisation(name="Pennine Care NHS FT",
                                            type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST),
        "arc": GM,
        "title": "Crisis support for young people out of hours",
        "description": "No out-of-hours crisis line for under-18s in the area.",
        "population": "young people in crisis",
        "age_group": needs_pb2.AGE_GROUP_YOUNG_PEOPLE,
        "priority_area": priority_area_pb2.PRIORITY_AREA_UNCATEGORISED,
        "sources": [needs_pb2.NeedSource(
            scoping_exercise=needs_pb2.ScopingExerciseResponse(response_ref="SE-2021-017"))],
    }
    fields.update(changes)
    return needs_pb2.NeedDraft(**fields)


def submit(api, **changes) -> needs_pb2.Need:
    return api.SubmitNeed(needs_pb2.SubmitNeedRequest(need=draft(**changes))).need


def test_the_life_of_a_need_and_its_events(service, topic):
    api = admin(service)
    need = submit(api)
    assert need.status == needs_pb2.NEED_STATUS_SUBMITTED and need.version == 1
    assert api.GetNeed(needs_pb2.GetNeedRequest(need_id=need.id)).need == need

    categorised = api.CategoriseNeed(needs_pb2.CategoriseNeedRequest(
        need_id=need.id, priority_area=priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE)
    ).need
    assert categorised.status == needs_pb2.NEED_STATUS_CATEGORISED

    other = submit(api, arc=YH, title="Out-of-hours crisis care for under-18s")
    aligned = api.AlignNeeds(needs_pb2.AlignNeedsRequest(
        need_id=need.id, aligned_need_id=other.id, kind=needs_pb2.ALIGNMENT_KIND_SAME_NEED))
    assert [a.need_id for a in aligned.need.alignments] == [other.id]
    assert [a.need_id for a in aligned.aligned_need.alignments] == [need.id]

    withdrawn = api.WithdrawNeed(needs_pb2.WithdrawNeedRequest(
        need_id=other.id, reason="duplicate of the Greater Manchester need")).need
    assert withdrawn.status == needs_pb2.NEED_STATUS_WITHDRAWN

    events = topic.wait_for_count(6)

    def history(need_id):  # order is guaranteed per key (one partition), not across keys
        return [e.type.rsplit(".", 1)[1] for e in events if e.key == need_id]

    assert history(need.id) == ["NeedSubmitted", "NeedCategorised", "NeedAligned"]
    assert history(other.id) == ["NeedSubmitted", "NeedAligned", "NeedWithdrawn"]
    categorised_at = next(i for i, e in enumerate(events) if e.type.endswith("NeedCategorised"))
    headers = dict(topic.records[categorised_at].headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/mhin/needs-intake"
    assert headers["ce_subject"] == need.id.encode()
    assert headers["content-type"] == b"application/protobuf"
    categorised_event = events[categorised_at].decode(events_pb2.NeedCategorised)
    assert categorised_event.need == categorised
    assert categorised_event.previous_priority_area == priority_area_pb2.PRIORITY_AREA_UNCATEGORISED


def test_list_filters_and_pages(service):
    api = admin(service)
    for index in range(5):
        submit(api, title=f"need {index}",
               priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES if index % 2
               else priority_area_pb2.PRIORITY_AREA_UNCATEGORISED)
    submit(api, arc=YH, sources=[needs_pb2.NeedSource(
        prior_study=needs_pb2.PriorStudy(citation="Smith et al. 2019", year=2019))])

    def titles(**filters):
        found, token = [], ""
        while True:
            page = api.ListNeeds(needs_pb2.ListNeedsRequest(
                page={"page_size": 2, "page_token": token}, **filters))
            found += [n.title for n in page.needs]
            if not (token := page.page.next_page_token):
                return found

    assert titles(arc=GM) == [f"need {i}" for i in range(5)]
    inequalities = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
    assert titles(priority_area=inequalities) == ["need 1", "need 3"]
    assert titles(status=needs_pb2.NEED_STATUS_SUBMITTED, arc=GM) == ["need 0", "need 2", "need 4"]
    assert len(titles(source_kind=needs_pb2.SOURCE_KIND_PRIOR_STUDY)) == 1
    assert len(titles(organisation_type=organisation_pb2.ORGANISATION_TYPE_VCSE)) == 0

    first = api.ListNeeds(needs_pb2.ListNeedsRequest(arc=GM, page={"page_size": 2}))
    with pytest.raises(grpc.RpcError) as raised:
        api.ListNeeds(needs_pb2.ListNeedsRequest(
            arc=YH, page={"page_size": 2, "page_token": first.page.next_page_token}))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page.page_token" in raised.value.details()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "need.title"),
        ({"description": "x" * 5001}, "need.description"),
        ({"arc": 99}, "need.arc"),
        ({"arc": arc_pb2.ARC_UNSPECIFIED}, "need.arc"),
        ({"submitter": needs_pb2.Organisation(name="X")}, "need.submitter.type"),
        ({"sources": []}, "need.sources"),
        ({"sources": [needs_pb2.NeedSource()]}, "need.sources.0"),
        ({"sources": [needs_pb2.NeedSource(prior_study=needs_pb2.PriorStudy(
            citation="Old", year=1999))]}, "need.sources.0.prior_study.year"),
        ({"priority_area": 0}, "need.priority_area"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(service, topic, changes, field):
    api = admin(service)
    with pytest.raises(grpc.RpcError) as raised:
        submit(api, **changes)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(field)
    assert list(api.ListNeeds(needs_pb2.ListNeedsRequest()).needs) == []
    submit(api)  # a good one after it: the only event on the topic
    assert [e.type for e in topic.wait_for_count(1)] == ["mhin.needs.v1.NeedSubmitted"]


def test_unknown_need_is_not_found_and_illegal_changes_fail_precondition(service):
    api = admin(service)
    with pytest.raises(grpc.RpcError) as raised:
        api.GetNeed(needs_pb2.GetNeedRequest(need_id="no-such-need"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    need = submit(api)
    api.WithdrawNeed(needs_pb2.WithdrawNeedRequest(need_id=need.id, reason="raised in error"))
    with pytest.raises(grpc.RpcError) as raised:
        api.CategoriseNeed(needs_pb2.CategoriseNeedRequest(
            need_id=need.id, priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "withdrawn" in raised.value.details()


def test_an_arc_member_cannot_submit_or_change_another_arcs_need(service):
    gm_member, yh_member = member(service), member(service, "yorkshire-and-humber")
    own = submit(gm_member)
    with pytest.raises(grpc.RpcError) as raised:
        submit(gm_member, arc=YH)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "YORKSHIRE_AND_HUMBER" in raised.value.details()
    for change in (
        lambda: yh_member.CategoriseNeed(needs_pb2.CategoriseNeedRequest(
            need_id=own.id, priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES)),
        lambda: yh_member.WithdrawNeed(needs_pb2.WithdrawNeedRequest(need_id=own.id,
                                                                     reason="not ours")),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            change()
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    viewer = caller(service, needs_pb2_grpc.NeedsServiceStub, "viewer")
    assert viewer.GetNeed(needs_pb2.GetNeedRequest(need_id=own.id)).need.version == 1
    with pytest.raises(grpc.RpcError) as raised:
        submit(viewer)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_import_reports_bad_rows_and_imports_good_rows_once(service, topic):
    api = admin(service)
    rows = [
        needs_pb2.ImportRow(row_number=2, import_key="k2", need=draft(title="first")),
        needs_pb2.ImportRow(row_number=3, import_key="k3", need=draft(title="")),
        needs_pb2.ImportRow(row_number=4, import_key="k4", need=draft(title="second", arc=YH)),
    ]
    first = api.ImportNeeds(needs_pb2.ImportNeedsRequest(rows=rows)).results
    assert [r.outcome for r in first] == [
        needs_pb2.IMPORT_ROW_OUTCOME_IMPORTED, needs_pb2.IMPORT_ROW_OUTCOME_INVALID,
        needs_pb2.IMPORT_ROW_OUTCOME_IMPORTED]
    assert (first[1].row_number, first[1].field) == (3, "need.title")

    again = api.ImportNeeds(needs_pb2.ImportNeedsRequest(rows=rows)).results
    assert [r.outcome for r in again] == [
        needs_pb2.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED, needs_pb2.IMPORT_ROW_OUTCOME_INVALID,
        needs_pb2.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED]
    assert [r.need_id for r in again] == [r.need_id for r in first]
    assert len(api.ListNeeds(needs_pb2.ListNeedsRequest()).needs) == 2

    gm_member = member(service)
    mixed = gm_member.ImportNeeds(needs_pb2.ImportNeedsRequest(rows=[
        needs_pb2.ImportRow(row_number=2, import_key="m2", need=draft(arc=YH))])).results
    assert (mixed[0].outcome, mixed[0].field) == (needs_pb2.IMPORT_ROW_OUTCOME_INVALID, "need.arc")
    events = topic.wait_for_count(2)
    assert len(topic.settle()) == 2, "a re-import must not publish again"
    assert {e.key for e in events} == {first[0].need_id, first[2].need_id}


def test_a_retried_submission_with_the_same_key_is_recorded_once(service):
    api = admin(service)
    request = needs_pb2.SubmitNeedRequest(need=draft(), idempotency_key="client-retry-1")
    assert api.SubmitNeed(request).need.id == api.SubmitNeed(request).need.id
    assert len(api.ListNeeds(needs_pb2.ListNeedsRequest()).needs) == 1


def test_an_arc_instance_accepts_only_its_own_arcs_data(tmp_path, kafka_bootstrap,
                                                        declared_topics_created):
    with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/gm.db",
                         kafka_bootstrap=kafka_bootstrap, service_name="needs-intake-gm",
                         instance_arc="greater-manchester") as runtime:
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            api = admin(channel)  # even a national admin
            assert submit(api).arc == GM
            with pytest.raises(grpc.RpcError) as raised:
                submit(api, arc=YH)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "GREATER_MANCHESTER instance" in raised.value.details()
