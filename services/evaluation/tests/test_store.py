"""evaluation's use cases on a real database, SQLite and PostgreSQL: observations with
their outbox rows, the project-sites and aggregates read models (no broker here:
events stay in the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mhin.evaluation.v1 import measure_events_pb2
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_devkit.harness import migrated_database
from mhin_evaluation import consumers, convert, domain, store
from mhin_evaluation.app import EvaluationApp
from mhin_evaluation.domain import (
    AggregateRow,
    Observation,
    ObservationDraft,
    Outcome,
    ProjectSites,
    Site,
    Stratifier,
)
from mhin_evaluation.main import DEFINITION
from mhin_evaluation.reference_measures import reference_measures
from mhin_measures.hierarchy import Level, SeriesKey
from mhin_platform.auth import Principal, Role
from mhin_platform.events.envelope import new_event
from mhin_platform.events.outbox import pending_count
from mhin_platform.protoconv import date_to_proto
from mhin_platform.reference import Arc

pytestmark = pytest.mark.integration

NATIONAL = Principal("national", Role.NATIONAL_ADMIN)
NOW = datetime(2026, 3, 15, tzinfo=UTC)
OLDHAM = Site(id="oldham", project_id="mhin-project-1", name="Oldham",
              arc=Arc.GREATER_MANCHESTER)
LEEDS = Site(id="leeds", project_id="mhin-project-1", name="Leeds",
             arc=Arc.YORKSHIRE_AND_HUMBER)


@pytest.fixture
def database(database_url):
    with migrated_database(DEFINITION, database_url) as database:
        yield database


@pytest.fixture
def app(database):
    app = EvaluationApp(database, clock=lambda: NOW)
    assert app.load_reference_measures() == 13
    assert app.load_reference_measures() == 0
    with database.transaction() as session:
        store.replace_project(session, ProjectSites(project_id="mhin-project-1", version=1,
                                                    sites=(OLDHAM, LEEDS)), None)
    return app


def referrals(site: str, group: str, numerator: float) -> ObservationDraft:
    return ObservationDraft(measure_id="pcref-minority-referrals", site_id=site,
                            period="2026-01", stratum=f"ethnicity={group}",
                            numerator=numerator, denominator=40)


def test_observations_are_recorded_corrected_and_each_change_is_in_the_outbox(app, database):
    first = app.submit_batch(NATIONAL, [referrals("oldham", "Black", 3),
                                        referrals("leeds", "Black", 7)])
    assert [(o.version, outcome) for o, outcome in first] == [(1, Outcome.RECORDED)] * 2
    again = app.submit_batch(NATIONAL, [referrals("oldham", "black", 3),
                                        referrals("leeds", "Black", 8)])
    assert [(o.version, outcome) for o, outcome in again] == [(1, Outcome.UNCHANGED),
                                                             (2, Outcome.CORRECTED)]
    observation, outcome = app.submit(NATIONAL, referrals("leeds", "Asian", 12))
    assert (observation.arc, outcome) == (Arc.YORKSHIRE_AND_HUMBER, Outcome.RECORDED)
    with database.read() as session:
        stored = store.observations_by_key(session, [("pcref-minority-referrals", "leeds",
                                                      "2026-01", "ethnicity=Black")])
        assert [(o.numerator, o.version) for o in stored.values()] == [(8, 2)]
        assert pending_count(session) == 13 + 4  # the measures, then four changes


def test_a_newer_project_snapshot_replaces_the_sites(app, database):
    bolton = Site(id="bolton", project_id="mhin-project-1", name="Bolton",
                  arc=Arc.GREATER_MANCHESTER)
    with database.transaction() as session:
        store.replace_project(session, ProjectSites(project_id="mhin-project-1", version=2,
                                                    sites=(OLDHAM, bolton)), 1)
    sites = app.project_sites("mhin-project-1")
    assert (sites.version, [s.name for s in sites.sites]) == (2, ["Bolton", "Oldham"])


def test_an_arc_instance_keeps_the_newest_version_of_each_national_measure(database):
    gm_instance = EvaluationApp(database, clock=lambda: NOW, instance_arc=Arc.GREATER_MANCHESTER)
    assert gm_instance.load_reference_measures() == 0, "it learns them from the national one"
    with database.read() as session:
        assert pending_count(session) == 0

    national = domain.define(reference_measures()[0], NOW)
    retitled = national.model_copy(update={"title": "Retitled", "version": 2})
    stale = national.model_copy(update={"title": "Stale"})
    for measure in (national, national, retitled, stale):  # again, newer, then late
        event = measure_events_pb2.MeasureDefined(measure=convert.measure_to_proto(measure))
        with database.transaction() as session:
            consumers.apply_measure(session, None, event)
    assert gm_instance.get_measure(national.id) == retitled
    with database.read() as session:
        assert pending_count(session) == 0, "what it learns, it does not publish"


def test_the_aggregates_read_model_keeps_the_latest_value_per_key(app, database):
    def row(period: str, numerator: float, minutes: int) -> AggregateRow:
        return AggregateRow(measure_id="pcref-minority-referrals", level=Level.ARC,
                            unit="GREATER_MANCHESTER", period=period, stratum="",
                            owner_arc=Arc.GREATER_MANCHESTER, numerator=numerator,
                            denominator=100, observation_count=2,
                            computed_at=NOW + timedelta(minutes=minutes))

    with database.transaction() as session:
        for aggregate in (row("2026-02", 30, 1), row("2026-01", 20, 2), row("2026-01", 25, 3)):
            store.put_aggregate(session, aggregate)
    key = SeriesKey("pcref-minority-referrals", Level.ARC, "Greater Manchester", "")
    _, series = app.series(NATIONAL, key)
    assert [(p.row.period, p.shown.numerator, p.row.computed_at) for p in series] == [
        ("2026-01", 25, NOW + timedelta(minutes=3)), ("2026-02", 30, NOW + timedelta(minutes=1))]


def test_a_bulk_load_stores_observations_and_aggregates_as_the_queries_read_them(app, database):
    """What the growth benchmark loads: many observations and aggregates in a few
    statements, read back by the same queries as those the normal paths write."""
    observations = [
        Observation(measure_id="pcref-minority-referrals", site_id=site.id,
                    period=f"2025-{month:02d}", stratum="ethnicity=Black", numerator=month,
                    denominator=40, project_id="mhin-project-1", arc=site.arc, version=1,
                    recorded_at=NOW, recorded_by="loader")
        for site in (OLDHAM, LEEDS) for month in range(1, 13)
    ]

    def national(period: str, stratum: str, numerator: float) -> AggregateRow:
        return AggregateRow(measure_id="pcref-minority-referrals", level=Level.NATIONAL,
                            unit="national", period=period, stratum=stratum, owner_arc=None,
                            numerator=numerator, denominator=80, observation_count=2,
                            computed_at=NOW)

    with database.transaction() as session:
        store.add_observations(session, observations)
        store.put_aggregates(session, [national("2025-01", "", 1), national("2025-01", "", 2),
                                       national("2025-01", "ethnicity=Black", 2)])
        store.put_aggregates(session, [national("2025-01", "", 3)])
    with database.read() as session:
        stored = store.observations_by_key(session, [o.key for o in observations])
    assert sorted(stored.values(), key=lambda o: o.key) == sorted(observations,
                                                                   key=lambda o: o.key)
    breakdown = app.breakdown(NATIONAL, "pcref-minority-referrals", Level.NATIONAL, "",
                              "2025-01", Stratifier.ETHNICITY)
    assert breakdown.total is not None and breakdown.total.row.numerator == 3  # the last wins
    assert [(g.row.stratum, g.row.numerator) for g in breakdown.groups] == [
        ("ethnicity=Black", 2)]


def test_impact_marks_count_changes_and_a_change_during_a_recomputation_survives(database):
    key = ("pcref-minority-referrals", "site", "oldham", "ethnicity=Black")
    with database.transaction() as session:
        store.mark_impacts(session, [key, key], NOW)  # one key, however often it is named
    with database.transaction() as session:
        store.mark_impacts(session, [key], NOW + timedelta(seconds=5))
    with database.read() as session:
        assert store.due_impacts(session, NOW - timedelta(seconds=1), 10) == []
        [due] = store.due_impacts(session, NOW, 10)  # it keeps its first change's time
    assert (due.unit, due.generation) == ("oldham", 2)
    with database.transaction() as session:  # another change while it was computed...
        store.mark_impacts(session, [key], NOW + timedelta(seconds=6))
    with database.transaction() as session:
        store.finish_impact(session, due, NOW + timedelta(seconds=7))
    with database.read() as session:  # ...so it waits again, from when it was finished
        [again] = store.due_impacts(session, NOW + timedelta(seconds=7), 10)
    assert again.generation == 3
    with database.transaction() as session:
        store.finish_impact(session, again, NOW + timedelta(seconds=8))
    with database.read() as session:
        assert store.due_impacts(session, NOW + timedelta(days=1), 10) == []


def test_a_changed_go_live_date_marks_the_sites_series_and_the_projects_estimates(app,
                                                                                   database):
    rows = [AggregateRow(measure_id="pcref-minority-referrals", level=Level.SITE, unit="oldham",
                         period="2026-01", stratum=stratum, owner_arc=Arc.GREATER_MANCHESTER,
                         numerator=3, denominator=40, observation_count=1, computed_at=NOW)
            for stratum in ("", "ethnicity=Black")]
    with database.transaction() as session:
        store.put_aggregates(session, rows)
    moved = OLDHAM.model_copy(update={"go_live": NOW.date()})
    snapshot = project_events_pb2.ProjectSiteUpdated(project=project_pb2.Project(
        id="mhin-project-1", version=2, sites=[
            project_pb2.Site(id=site.id, name=site.name, arc=convert.enum_to_proto(
                site.arc, convert.ARC), go_live_date=date_to_proto(site.go_live))
            for site in (moved, LEEDS)]))
    with database.transaction() as session:
        consumers.apply_project(session, new_event(
            topic=consumers.PROJECT_TOPIC, key="mhin-project-1", source="/mhin/project-tracking",
            subject="mhin-project-1", message=snapshot),
            snapshot)
        marked = store.due_impacts(session, datetime.now(UTC), 10)
    assert {(p.scope, p.unit, p.stratum) for p in marked} == {
        ("site", "oldham", ""), ("site", "oldham", "ethnicity=Black"),
        ("project", "mhin-project-1", ""), ("project", "mhin-project-1", "ethnicity=Black")}
    assert app.project_sites("mhin-project-1").sites[1].go_live == NOW.date()
