"""What evaluation consumes into its read models, each handler inside the platform
consumer's idempotent transaction: measure definitions (defined on the national
instance only; every instance consumes them, so an ARC's own instance checks
observations against them), project-tracking's project snapshots (the sites
observations may be recorded for) and the stream processors' unsuppressed
aggregates."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.evaluation.v1 import aggregate_events_pb2, measure_events_pb2
from mhin_evaluation import convert, domain, store
from mhin_evaluation.events import MEASURE_TOPIC
from mhin_platform.events import topic_names
from mhin_platform.events.consumer import Handler
from mhin_platform.events.envelope import Event
from mhin_platform.events.topics import event_classes
from mhin_platform.runtime import ConsumerSpec

PROJECT_TOPIC = topic_names.PROJECTS_PROJECT
AGGREGATE_TOPIC = topic_names.EVALUATION_AGGREGATE_RESTRICTED


def apply_project(session: Session, event: Event, message: Message) -> None:
    """Keep a project's sites at the highest version seen (events may come again or late);
    a site whose go-live date changed has its impact estimates recomputed."""
    snapshot = convert.project_sites_from_proto(message.project)  # type: ignore[attr-defined]
    known = store.project_version(session, snapshot.project_id)
    if domain.is_newer(snapshot, known):
        before = store.project_sites(session, snapshot.project_id)
        go_live_before = {site.id: site.go_live for site in (before.sites if before else ())}
        store.replace_project(session, snapshot, known)
        moved = [site.id for site in snapshot.sites
                 if site.go_live != go_live_before.get(site.id)]
        if moved:
            series = store.site_series_keys(session, moved)
            store.mark_impacts(session, [
                *((measure, "site", site, stratum) for measure, site, stratum in series),
                *((measure, "project", snapshot.project_id, stratum)
                  for measure, _, stratum in series),
            ], datetime.now(UTC))


def apply_measure(session: Session, event: Event, message: Message) -> None:
    """Keep each measure the national instance defines at its highest version seen. On
    the national instance itself, the topic's only writer, each one is already stored."""
    measure = convert.measure_from_proto(message.measure)  # type: ignore[attr-defined]
    known = store.get_measure(session, measure.id)
    if known is None:
        store.add_measure(session, measure)
    elif domain.is_newer(measure, known.version):
        store.replace_measure(session, measure)


def apply_aggregate(session: Session, event: Event, message: Message) -> None:
    """Keep the aggregate; a site's changed series has its impact estimates (the
    site's and its project's pooled one) recomputed."""
    row = convert.aggregate_row_from_proto(message)  # type: ignore[arg-type]
    store.put_aggregate(session, row)
    if row.level is domain.Level.SITE:
        site = store.sites_by_id(session, [row.unit]).get(row.unit)
        keys = [(row.measure_id, "site", row.unit, row.stratum)]
        if site is not None:
            keys.append((row.measure_id, "project", site.project_id, row.stratum))
        store.mark_impacts(session, keys, datetime.now(UTC))


CONSUMERS = (
    ConsumerSpec(
        name="measures",
        topics=[MEASURE_TOPIC],
        handlers=[Handler(measure_events_pb2.MeasureDefined, apply_measure)],
    ),
    ConsumerSpec(
        name="projects",
        topics=[PROJECT_TOPIC],
        # every event on the project topic carries the project snapshot
        handlers=[Handler(cls, apply_project) for cls in event_classes(PROJECT_TOPIC)],
    ),
    ConsumerSpec(
        name="aggregates",
        topics=[AGGREGATE_TOPIC],
        handlers=[Handler(aggregate_events_pb2.AggregateUpdated, apply_aggregate)],
    ),
)
