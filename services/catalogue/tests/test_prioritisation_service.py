"""MCDA prioritisation rounds through a real gRPC server on a real port, a real broker
and a real database: results computed and published, reference criteria seeded once,
bad rounds rejected naming the field, permissions."""

from __future__ import annotations

import grpc
import pytest

from mhin.catalogue.v1 import (
    catalogue_pb2,
    prioritisation_events_pb2,
    prioritisation_pb2,
    prioritisation_pb2_grpc,
)
from mhin_devkit.harness import TopicReader, caller

pytestmark = pytest.mark.integration

P = prioritisation_pb2


@pytest.fixture
def topic(kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, "mhin.catalogue.prioritisation-round")
    yield reader
    reader.close()


@pytest.fixture
def rounds(catalogue):
    return caller(catalogue, prioritisation_pb2_grpc.PrioritisationServiceStub, "national_admin")


@pytest.fixture(scope="module")
def shared_rounds(shared_catalogue):
    return caller(shared_catalogue, prioritisation_pb2_grpc.PrioritisationServiceStub,
                  "national_admin")


@pytest.fixture
def solutions(admin, draft):
    """The catalogued solutions the rounds' options refer to, by name."""
    return {name: admin.CatalogueSolution(catalogue_pb2.CatalogueSolutionRequest(
        solution=draft(name=name))).solution for name in ("Parent-led CBT", "PCREF")}


# Effective 60, Implementable 40. CBT 0.6·60 + 0.4·80 = 68, PCREF 0.6·70 + 0.4·50 = 62,
# outreach 50. Effective at x: CBT = 80 - 0.2x, PCREF = 50 + 0.2x, so CBT leads up to 75;
# Implementable at y: CBT = 60 + 0.2y, PCREF = 70 - 0.2y, so CBT leads from 25.
SCORES = {"Parent-led CBT": (60, 80), "PCREF": (70, 50), "Alcohol outreach": (50, 50)}


def round_draft(options=None, scores=SCORES, weights=(60, 40), **changes) -> P.RoundDraft:
    criteria = ("Effective", "Implementable")
    fields = {
        "title": "Decision conference 2022",
        "source": "MHIN workshop, Ahuja et al. 2023",
        "criteria": [P.Criterion(name=name, weight=weight)
                     for name, weight in zip(criteria, weights, strict=True)],
        "options": options or [P.RoundOption(name=name) for name in scores],
        "scores": [P.Score(option=option, criterion=criterion, value=value)
                   for option, values in scores.items()
                   for criterion, value in zip(criteria, values, strict=True)],
    }
    fields.update(changes)
    return P.RoundDraft(**fields)


def record(api, draft=None, key="") -> P.PrioritisationRound:
    return api.RecordRound(P.RecordRoundRequest(round=draft or round_draft(),
                                                idempotency_key=key)).round


def round_count(api) -> int:
    return len(api.ListRounds(P.ListRoundsRequest(page={"page_size": 200})).rounds)


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_a_round_is_ranked_explained_closed_and_published(rounds, solutions, topic):
    options = [P.RoundOption(name="parent-led  cbt"),  # matched by name
               P.RoundOption(name="Race equality framework",
                             solution_id=solutions["PCREF"].id),
               P.RoundOption(name="Alcohol outreach")]  # not catalogued: a named option
    scores = dict(zip(["parent-led  cbt", "Race equality framework", "Alcohol outreach"],
                      SCORES.values(), strict=True))
    recorded = record(rounds, round_draft(options, scores), key="workshop-2022")
    assert (recorded.status, recorded.version) == (P.ROUND_STATUS_OPEN, 1)
    assert [o.solution_id for o in recorded.options] == [
        solutions["Parent-led CBT"].id, solutions["PCREF"].id, ""]
    assert [(r.option, r.total, r.rank, r.solution_id) for r in recorded.results.ranking] == [
        ("parent-led  cbt", 68, 1, solutions["Parent-led CBT"].id),
        ("Race equality framework", 62, 2, solutions["PCREF"].id),
        ("Alcohol outreach", 50, 3, "")]
    assert [(w.criterion, w.weight, w.option, w.lower_weight, w.upper_weight)
            for w in recorded.results.sensitivity] == [
        ("Effective", 60, "parent-led  cbt", 0, 75),
        ("Implementable", 40, "parent-led  cbt", 25, 100)]
    assert record(rounds, round_draft(options, scores), key="workshop-2022") == recorded
    assert rounds.GetRound(P.GetRoundRequest(round_id=recorded.id)).round == recorded

    closed = rounds.CloseRound(P.CloseRoundRequest(round_id=recorded.id)).round
    assert (closed.status, closed.version, closed.results) == (
        P.ROUND_STATUS_CLOSED, 2, recorded.results)
    again = rpc_error(lambda: rounds.CloseRound(P.CloseRoundRequest(round_id=recorded.id)))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already closed" in again.details()

    events = topic.wait_for_count(2)
    assert [(e.type, e.key) for e in events] == [
        ("mhin.catalogue.v1.PrioritisationRoundRecorded", recorded.id),
        ("mhin.catalogue.v1.PrioritisationRoundClosed", recorded.id)]
    headers = dict(topic.records[0].headers)
    assert headers["ce_source"] == b"/mhin/solution-catalogue"
    assert headers["ce_subject"] == recorded.id.encode()
    assert headers["content-type"] == b"application/protobuf"
    assert events[0].decode(prioritisation_events_pb2.PrioritisationRoundRecorded).round == \
        recorded
    assert events[1].decode(prioritisation_events_pb2.PrioritisationRoundClosed).round == closed
    assert len(topic.settle()) == 2, "the repeated request published nothing"


def test_stakeholder_groups_are_combined_by_the_stated_rule(rounds):
    groups = [P.StakeholderGroup(name="Experts by experience", weight=75),
              P.StakeholderGroup(name="Clinicians", weight=25)]
    by_group = {"Experts by experience": {"A": (80, 40), "B": (60, 90)},
                "Clinicians": {"A": (60, 60), "B": (60, 70)}}
    draft = round_draft(
        options=[P.RoundOption(name="A"), P.RoundOption(name="B")], scores={},
        stakeholder_groups=groups, combination=P.SCORE_COMBINATION_WEIGHTED_MEAN)
    draft.scores.extend(
        P.Score(option=option, criterion=criterion, stakeholder_group=group, value=value)
        for group, table in by_group.items() for option, values in table.items()
        for criterion, value in zip(("Effective", "Implementable"), values, strict=True))
    recorded = record(rounds, draft)
    # A: Effective 0.75·80 + 0.25·60 = 75, Implementable 45 -> 0.6·75 + 0.4·45 = 63.
    # B: Effective 60, Implementable 85 -> 36 + 34 = 70.
    assert [(r.option, r.total, r.rank) for r in recorded.results.ranking] == [
        ("B", 70, 1), ("A", 63, 2)]
    assert recorded.combination == P.SCORE_COMBINATION_WEIGHTED_MEAN
    assert [g.weight for g in recorded.stakeholder_groups] == [75, 25]


def test_the_default_criteria_are_seeded_once(start_catalogue):
    def criteria(runtime):
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            api = caller(channel, prioritisation_pb2_grpc.PrioritisationServiceStub, "viewer")
            return [(c.name, c.weight) for c in
                    api.ListDefaultCriteria(P.ListDefaultCriteriaRequest()).criteria]

    runtime = start_catalogue()
    first = criteria(runtime)
    assert first == [("Clinically effective", 21.5), ("Patients involved", 16.7),
                     ("Reduces inequalities", 19.0), ("Implementable", 23.8),
                     ("Sustainable", 19.0)]
    runtime.stop()
    assert criteria(start_catalogue()) == first  # a second start adds nothing


def test_rounds_list_in_order_filtered_and_paged(rounds):
    recorded = [record(rounds, round_draft(title=f"round {i}")) for i in range(3)]
    rounds.CloseRound(P.CloseRoundRequest(round_id=recorded[1].id))

    def titles(**filters):
        found, token = [], ""
        while True:
            page = rounds.ListRounds(P.ListRoundsRequest(
                page={"page_size": 2, "page_token": token}, **filters))
            found += [r.title for r in page.rounds]
            if not (token := page.page.next_page_token):
                return found

    assert titles() == ["round 0", "round 1", "round 2"]
    assert titles(status=P.ROUND_STATUS_OPEN) == ["round 0", "round 2"]
    assert titles(status=P.ROUND_STATUS_CLOSED) == ["round 1"]


def _with_score(value: float) -> P.RoundDraft:
    draft = round_draft()
    draft.scores[3].value = value  # PCREF on Implementable
    return draft


def _without_last_score() -> P.RoundDraft:
    draft = round_draft()
    del draft.scores[-1]
    return draft


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        (P.RecordRoundRequest(round=round_draft(weights=(60, 39.9))), "round.criteria",
         "weights must sum to 100, they sum to 99.9"),
        (P.RecordRoundRequest(round=round_draft(weights=(70, 40))), "round.criteria",
         "they sum to 110"),
        (P.RecordRoundRequest(round=_with_score(100.5)), "round.scores.3.value",
         "less than or equal to 100"),
        (P.RecordRoundRequest(round=_with_score(-5)), "round.scores.3.value",
         "greater than or equal to 0"),
        (P.RecordRoundRequest(round=_with_score(float("nan"))), "round.scores.3.value",
         "finite number"),
        (P.RecordRoundRequest(round=_without_last_score()), "round.scores",
         "no score for option 'Alcohol outreach' on criterion 'Implementable'"),
        (P.RecordRoundRequest(round=round_draft(combination=9)), "round.combination",
         "unknown value 9"),
        (P.RecordRoundRequest(round=round_draft(title="")), "round.title", "at least 1"),
        (P.RecordRoundRequest(round=round_draft(title="x" * 201)), "round.title",
         "at most 200"),
        (P.RecordRoundRequest(round=round_draft(source="x" * 501)), "round.source",
         "at most 500"),
        (P.RecordRoundRequest(round=round_draft(
            options=[P.RoundOption(name="Parent-led CBT", solution_id="no-such-solution"),
                     P.RoundOption(name="PCREF"), P.RoundOption(name="Alcohol outreach")])),
         "round.options.0.solution_id", "no solution has the id"),
        (P.RecordRoundRequest(round=round_draft(), idempotency_key="k" * 201), "idempotency_key",
         "at most 200"),
    ],
    ids=["weights-below-100", "weights-above-100", "score-above-100", "score-below-0",
         "score-nan", "missing-score", "unknown-combination", "no-title", "long-title",
         "long-source", "unknown-solution", "long-key"],
)
def test_bad_rounds_name_the_field_and_write_nothing(shared_rounds, topic, request_, field,
                                                     message):
    before = round_count(shared_rounds)
    error = rpc_error(lambda: shared_rounds.RecordRound(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)
    assert message in error.details()
    assert round_count(shared_rounds) == before
    good = record(shared_rounds)  # the only event on the topic is this one's
    assert [(e.type, e.key) for e in topic.wait_for_count(1)] == [
        ("mhin.catalogue.v1.PrioritisationRoundRecorded", good.id)]


def test_a_retired_solution_is_no_option_and_is_not_matched_by_name(rounds, admin, solutions):
    pcref = solutions["PCREF"]
    admin.RetireSolution(catalogue_pb2.RetireSolutionRequest(solution_id=pcref.id,
                                                             reason="superseded"))
    error = rpc_error(lambda: record(rounds, round_draft(options=[
        P.RoundOption(name="Parent-led CBT"), P.RoundOption(name="PCREF", solution_id=pcref.id),
        P.RoundOption(name="Alcohol outreach")])))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "retired" in error.details()
    assert [o.solution_id for o in record(rounds).options] == [
        solutions["Parent-led CBT"].id, "", ""]


def test_a_name_matched_twice_is_one_solution_in_two_options(rounds, solutions):
    cbt = solutions["Parent-led CBT"]
    error = rpc_error(lambda: record(rounds, round_draft(options=[
        P.RoundOption(name="Parent-led CBT"), P.RoundOption(name="PCREF", solution_id=cbt.id),
        P.RoundOption(name="Alcohol outreach")])))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"round.options: solution {cbt.id} is more than one option"


@pytest.mark.parametrize(("role", "arc"), [("arc_member", "south-london"), ("viewer", None)])
def test_only_a_national_admin_records_and_closes_rounds(shared_catalogue, shared_rounds, role,
                                                         arc):
    recorded = record(shared_rounds)
    api = caller(shared_catalogue, prioritisation_pb2_grpc.PrioritisationServiceStub, role, arc)
    assert api.GetRound(P.GetRoundRequest(round_id=recorded.id)).round == recorded
    assert recorded.id in [r.id for r in api.ListRounds(P.ListRoundsRequest(
        page={"page_size": 200})).rounds]
    assert len(api.ListDefaultCriteria(P.ListDefaultCriteriaRequest()).criteria) == 5
    for change in (lambda: record(api),
                   lambda: api.CloseRound(P.CloseRoundRequest(round_id=recorded.id))):
        error = rpc_error(change)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "only the national team (national_admin)" in error.details()
    missing = rpc_error(lambda: api.GetRound(P.GetRoundRequest(round_id="no-such-round")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
