"""evaluation persistence: measure definitions (JSON documents), observations keyed
by measure x site x period x stratum, and two read models built from other
services' events: project sites and aggregates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from mhin_evaluation.domain import (
    AggregateRow,
    Measure,
    Observation,
    ProjectSites,
    Site,
)
from mhin_measures.hierarchy import AggregateKey, Level
from mhin_platform.db.documents import document_table
from mhin_platform.db.statements import rows_changed, upsert_into
from mhin_platform.errors import FailedPrecondition
from mhin_platform.reference import Arc

metadata = MetaData()

measures = document_table(
    "measures",
    metadata,
    Column("project_id", String(64), nullable=False, index=True),
    id_length=64, versioned=False,
)

# Read model of project-tracking's project events: the highest version seen per project.
projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("arc", String(40), nullable=False),
    Column("go_live", Date, nullable=True),
)

observations = Table(
    "observations",
    metadata,
    Column("measure_id", String(64), primary_key=True),
    Column("site_id", String(64), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("stratum", String(200), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("arc", String(40), nullable=False),
    Column("numerator", Double, nullable=False),
    Column("denominator", Double, nullable=True),
    Column("version", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)

# Read model of the stream processors' restricted (unsuppressed) aggregates.
aggregates = Table(
    "aggregates",
    metadata,
    Column("measure_id", String(64), primary_key=True),
    Column("level", String(10), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("stratum", String(200), primary_key=True),
    Column("owner_arc", String(40), nullable=True),
    Column("numerator", Double, nullable=False),
    Column("denominator", Double, nullable=False),
    Column("observation_count", Integer, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

# ----------------------------------------------------------------- measures


def add_measure(session: Session, measure: Measure) -> None:
    session.execute(insert(measures).values(id=measure.id, project_id=measure.project_id,
                                            document=measure.model_dump_json()))


def get_measure(session: Session, measure_id: str) -> Measure | None:
    document = session.execute(
        select(measures.c.document).where(measures.c.id == measure_id)
    ).scalar_one_or_none()
    return None if document is None else Measure.model_validate_json(document)


def measures_by_id(session: Session, ids: Iterable[str]) -> dict[str, Measure]:
    query = select(measures.c.document).where(measures.c.id.in_(set(ids)))
    found = (Measure.model_validate_json(doc) for doc in session.execute(query).scalars())
    return {measure.id: measure for measure in found}


def list_measures(session: Session, project_id: str, after: str | None,
                  limit: int) -> list[Measure]:
    query = select(measures.c.document).order_by(measures.c.id).limit(limit)
    if project_id:
        query = query.where(measures.c.project_id == project_id)
    if after is not None:
        query = query.where(measures.c.id > after)
    return [Measure.model_validate_json(doc) for doc in session.execute(query).scalars()]


# ----------------------------------------------------------------- project sites


def project_version(session: Session, project_id: str) -> int | None:
    return session.execute(
        select(projects.c.version).where(projects.c.id == project_id)
    ).scalar_one_or_none()


def replace_project(session: Session, snapshot: ProjectSites, known_version: int | None) -> None:
    """Store a project's sites as of ``snapshot`` (a site dropped from the project
    drops out; its observations stay)."""
    if known_version is None:
        session.execute(insert(projects).values(id=snapshot.project_id, version=snapshot.version))
    else:
        session.execute(update(projects).where(projects.c.id == snapshot.project_id)
                        .values(version=snapshot.version))
    session.execute(delete(sites).where(sites.c.project_id == snapshot.project_id))
    if snapshot.sites:
        session.execute(insert(sites), [
            {"id": site.id, "project_id": site.project_id, "name": site.name,
             "arc": site.arc.name, "go_live": site.go_live}
            for site in snapshot.sites
        ])


def project_sites(session: Session, project_id: str) -> ProjectSites | None:
    version = project_version(session, project_id)
    if version is None:
        return None
    rows = session.execute(
        select(sites).where(sites.c.project_id == project_id).order_by(sites.c.name, sites.c.id)
    ).all()
    return ProjectSites(project_id=project_id, version=version,
                        sites=tuple(_site(row) for row in rows))


def sites_by_id(session: Session, ids: Iterable[str]) -> dict[str, Site]:
    rows = session.execute(select(sites).where(sites.c.id.in_(set(ids)))).all()
    return {row.id: _site(row) for row in rows}


def _site(row) -> Site:
    return Site(id=row.id, project_id=row.project_id, name=row.name, arc=Arc[row.arc],
                go_live=row.go_live)


# ----------------------------------------------------------------- observations

ObservationKey = tuple[str, str, str, str]


def observations_by_key(session: Session,
                        keys: Sequence[ObservationKey]) -> dict[ObservationKey, Observation]:
    """The recorded observations among ``keys``, locked until the transaction ends
    (PostgreSQL) so that two corrections of one observation cannot both win.

    A batch names few measures, sites and periods: one query for those (a superset
    of the keys, bounded by what was recorded for them) is far cheaper than looking
    thousands of keys up one by one."""
    wanted = set(keys)
    if not wanted:
        return {}
    measure_ids, site_ids, period_ids, _ = (set(part) for part in zip(*wanted, strict=True))
    query = select(observations).where(
        observations.c.measure_id.in_(measure_ids), observations.c.site_id.in_(site_ids),
        observations.c.period.in_(period_ids)).with_for_update()
    found = (_observation(row) for row in session.execute(query))
    return {o.key: o for o in found if o.key in wanted}


def add_observations(session: Session, added: Sequence[Observation]) -> None:
    """Insert new observations; FailedPrecondition if another call recorded one first."""
    if not added:
        return
    try:
        session.execute(insert(observations), [_observation_columns(o) for o in added])
    except IntegrityError:
        raise FailedPrecondition("an observation of this submission was recorded by another "
                                 "call at the same moment; submit again") from None


def replace_observations(session: Session, changed: Sequence[Observation]) -> None:
    if not changed:
        return
    statement = update(observations).where(
        observations.c.measure_id == bindparam("key_measure_id"),
        observations.c.site_id == bindparam("key_site_id"),
        observations.c.period == bindparam("key_period"),
        observations.c.stratum == bindparam("key_stratum"),
    )
    session.execute(statement, [
        {"key_measure_id": o.measure_id, "key_site_id": o.site_id, "key_period": o.period,
         "key_stratum": o.stratum, **_observation_values(o)}
        for o in changed
    ])


def _observation_values(observation: Observation) -> dict[str, object]:
    return {
        "numerator": observation.numerator,
        "denominator": observation.denominator,
        "version": observation.version,
        "recorded_at": observation.recorded_at,
        "recorded_by": observation.recorded_by,
    }


def _observation_columns(observation: Observation) -> dict[str, object]:
    return {
        "measure_id": observation.measure_id,
        "site_id": observation.site_id,
        "period": observation.period,
        "stratum": observation.stratum,
        "project_id": observation.project_id,
        "arc": observation.arc.name,
        **_observation_values(observation),
    }


def _observation(row) -> Observation:
    return Observation(
        measure_id=row.measure_id, site_id=row.site_id, period=row.period, stratum=row.stratum,
        numerator=row.numerator, denominator=row.denominator, project_id=row.project_id,
        arc=Arc[row.arc], version=row.version, recorded_at=_aware(row.recorded_at),
        recorded_by=row.recorded_by,
    )


# ----------------------------------------------------------------- aggregates


def put_aggregate(session: Session, row: AggregateRow) -> None:
    """Latest wins: the topic is ordered per key, so the last record read is the newest."""
    put_aggregates(session, [row])


def put_aggregates(session: Session, rows: Sequence[AggregateRow]) -> None:
    """Many aggregates in one statement (a bulk load); of rows with one key the last
    wins. Only that one is sent: PostgreSQL refuses a multi-row upsert that changes a
    row twice."""
    latest: dict[tuple[object, ...], dict[str, object]] = {}
    for row in rows:
        columns = _aggregate_columns(row)
        latest[tuple(columns[name] for name in _AGGREGATE_KEY)] = columns
    if latest:
        session.execute(_upsert_aggregate(session.get_bind().dialect.name), list(latest.values()))


def _aggregate_columns(row: AggregateRow) -> dict[str, object]:
    return {
        **_key_columns(row.key),
        "owner_arc": row.owner_arc.name if row.owner_arc else None,
        "numerator": row.numerator,
        "denominator": row.denominator,
        "observation_count": row.observation_count,
        "computed_at": row.computed_at,
    }


_AGGREGATE_KEY = tuple(column.name for column in aggregates.primary_key.columns)


@cache
def _upsert_aggregate(dialect: str):
    """One INSERT ... ON CONFLICT DO UPDATE, built once per dialect: the aggregates
    consumer runs it for every record of a busy topic."""
    statement = upsert_into(aggregates, dialect)
    figures = ("owner_arc", "numerator", "denominator", "observation_count", "computed_at")
    return statement.on_conflict_do_update(
        index_elements=list(aggregates.primary_key.columns),
        set_={name: statement.excluded[name] for name in figures})


def get_aggregate(session: Session, key: AggregateKey) -> AggregateRow | None:
    row = session.execute(select(aggregates).where(*_aggregate_where(key))).first()
    return None if row is None else _aggregate(row)


def series(session: Session, measure_id: str, level: Level, unit: str,
           stratum: str) -> list[AggregateRow]:
    query = select(aggregates).where(
        aggregates.c.measure_id == measure_id, aggregates.c.level == level.name,
        aggregates.c.unit == unit, aggregates.c.stratum == stratum)
    return [_aggregate(row) for row in session.execute(query)]


def period_strata(session: Session, measure_id: str, level: Level, unit: str, period: str,
                  wanted: Sequence[str]) -> dict[str, AggregateRow]:
    query = select(aggregates).where(
        aggregates.c.measure_id == measure_id, aggregates.c.level == level.name,
        aggregates.c.unit == unit, aggregates.c.period == period,
        aggregates.c.stratum.in_(wanted))
    return {row.stratum: _aggregate(row) for row in session.execute(query)}


def period_aggregates(session: Session, measure_id: str,
                      periods: Sequence[str]) -> list[AggregateRow]:
    """Every aggregate of a measure in ``periods``: every level, unit and stratum (what
    complementary suppression chooses its pattern from)."""
    query = select(aggregates).where(aggregates.c.measure_id == measure_id,
                                     aggregates.c.period.in_(list(periods)))
    return [_aggregate(row) for row in session.execute(query)]


def _key_columns(key: AggregateKey) -> dict[str, str]:
    return {"measure_id": key.measure_id, "level": key.level.name, "unit": key.unit,
            "period": key.period, "stratum": key.stratum}


def _aggregate_where(key: AggregateKey) -> list[ColumnElement[bool]]:
    return [aggregates.c[name] == value for name, value in _key_columns(key).items()]


def _aggregate(row) -> AggregateRow:
    return AggregateRow(
        measure_id=row.measure_id, level=Level[row.level], unit=row.unit, period=row.period,
        stratum=row.stratum, owner_arc=Arc[row.owner_arc] if row.owner_arc else None,
        numerator=row.numerator, denominator=row.denominator,
        observation_count=row.observation_count, computed_at=_aware(row.computed_at),
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replace_measure(session: Session, measure: Measure) -> None:
    """A newer version of a measure an ARC instance learnt from the measure topic."""
    session.execute(update(measures).where(measures.c.id == measure.id).values(
        project_id=measure.project_id, document=measure.model_dump_json()))


# ----------------------------------------------------------------- impact recomputation

# Series whose impact estimate is to be recomputed: marked by the consumers as an
# aggregate or a go-live date changes, taken by the recomputation worker once due.
impact_pending = Table(
    "impact_pending",
    metadata,
    Column("measure_id", String(64), primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("stratum", String(200), primary_key=True),
    Column("changed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("generation", Integer, nullable=False),
)


@dataclass(frozen=True)
class PendingImpact:
    measure_id: str
    scope: str
    unit: str
    stratum: str
    generation: int


def mark_impacts(session: Session, keys: Iterable[tuple[str, str, str, str]],
                 changed_at: datetime) -> None:
    """Ask for these estimates to be recomputed: their series changed at
    ``changed_at``. A key already waiting keeps its time (changes close together make
    one estimate) and counts one more change, so the worker knows a change came while
    it computed."""
    rows = [{"measure_id": m, "scope": s, "unit": u, "stratum": st, "changed_at": changed_at,
             "generation": 1} for m, s, u, st in dict.fromkeys(keys)]
    if not rows:
        return
    statement = upsert_into(impact_pending, session.get_bind().dialect.name)
    session.execute(statement.on_conflict_do_update(
        index_elements=["measure_id", "scope", "unit", "stratum"],
        set_={"generation": impact_pending.c.generation + 1}), rows)


def due_impacts(session: Session, changed_by: datetime, limit: int) -> list[PendingImpact]:
    """The estimates waiting since ``changed_by`` or earlier, the longest-waiting first."""
    query = (select(impact_pending).where(impact_pending.c.changed_at <= changed_by)
             .order_by(impact_pending.c.changed_at).limit(limit))
    return [PendingImpact(row.measure_id, row.scope, row.unit, row.stratum, row.generation)
            for row in session.execute(query)]


def finish_impact(session: Session, done: PendingImpact, now: datetime) -> None:
    """Done with ``done``: forget it, unless another change came meanwhile; then it
    waits again as changed ``now`` (so a busy series is estimated once per delay)."""
    where = [impact_pending.c[name] == getattr(done, name)
             for name in ("measure_id", "scope", "unit", "stratum")]
    gone = rows_changed(session, delete(impact_pending).where(
        *where, impact_pending.c.generation == done.generation))
    if not gone:
        session.execute(update(impact_pending).where(*where).values(changed_at=now))


def site_series_keys(session: Session, site_ids: Iterable[str]) -> list[tuple[str, str, str]]:
    """(measure, site, stratum) of every site-level series of these sites."""
    query = select(aggregates.c.measure_id, aggregates.c.unit, aggregates.c.stratum).where(
        aggregates.c.level == Level.SITE.name, aggregates.c.unit.in_(set(site_ids))).distinct()
    return [(row.measure_id, row.unit, row.stratum) for row in session.execute(query)]
