"""Impact estimation use cases: a site's interrupted time series around its go-live
date (optionally against comparator sites), a project's sites pooled, and the live
recomputation that publishes ``ImpactEstimated`` as series and go-live dates change.

The statistics are ``mhin_measures.its``; this module loads the series a caller may
see, decides what is estimable, and translates the statistics' refusals into the
platform's errors. An estimate whose series has a value the caller (or, on the
topic, a shared audience) may not see is withheld: it would disclose that value.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin_evaluation import domain, events, impact_convert, impact_domain, store, suppression
from mhin_evaluation.domain import AggregateRow, Measure, Site
from mhin_evaluation.impact_domain import (
    NO_COMPARATORS,
    SHARED_AUDIENCE,
    SITE_SCOPE,
    Comparators,
    PooledImpact,
    PooledSite,
    SeriesRef,
    SiteImpact,
)
from mhin_measures import its, periods
from mhin_measures.complementary import CellKey, Marks
from mhin_measures.disclosure import DEFAULT_THRESHOLD
from mhin_measures.hierarchy import Level
from mhin_measures.periods import GRANULARITY_OF, Period
from mhin_platform.auth import Principal, Role
from mhin_platform.db import Database
from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.usecases import utc_now

log = logging.getLogger("mhin.evaluation.impact")


def _options(options: its.Options, measure: Measure) -> its.Options:
    try:
        return options.checked(GRANULARITY_OF[measure.frequency])
    except its.ImpactOptionError as exc:
        raise InvalidArgument(f"options.{exc.option}", exc.message) from None


class ImpactApp:
    def __init__(self, database: Database, disclosure_threshold: int = DEFAULT_THRESHOLD,
                 clock: Callable[[], datetime] = utc_now, idle_share: float = 0.0) -> None:
        """``idle_share``: the live recomputation rests this many times as long as each
        estimate took (3: it takes at most a quarter of a core), so a burst of marked
        estimates does not hold up the process's queries and consumers."""
        self._db = database
        self._patterns = suppression.Patterns(disclosure_threshold)
        self._clock = clock
        self._idle_share = idle_share

    # ------------------------------------------------------------- one site

    def site_impact(self, principal: Principal, key: SeriesRef, options: its.Options,
                    comparators: Comparators = NO_COMPARATORS) -> SiteImpact:
        with self._db.read() as session:
            return self._site_impact(session, principal, key, options, comparators)

    def _site_impact(self, session: Session, principal: Principal, key: SeriesRef,
                     options: its.Options, comparators: Comparators) -> SiteImpact:
        if key.level is not Level.SITE:
            raise InvalidArgument("series.level", "an impact estimate is of a site's series: "
                                  "use LEVEL_SITE (GetPooledImpact pools a project's sites)")
        measure, key = _resolve(session, key)
        site = store.sites_by_id(session, [key.unit]).get(key.unit)
        if site is None:
            raise NotFound(f"site {key.unit!r} is not known to evaluation")
        options = _options(options, measure)
        if site.go_live is None:
            raise FailedPrecondition(f"site {site.id} ({site.name}) has no go-live date: set it "
                                     "in project-tracking to estimate its impact")
        rows = store.series(session, measure.id, Level.SITE, site.id, key.stratum)
        label = f"site {site.id} ({site.name})"
        withheld = impact_domain.withheld_reason(rows, measure, principal,
                                                 self._marks(session, principal, measure, rows),
                                                 label)
        if withheld:
            return SiteImpact(key, site, measure, withheld, None)
        go_live = impact_domain.period_of(site.go_live, measure).id
        estimate = _estimate(rows, go_live, measure, options, label)
        controlled = None
        if comparators.auto or comparators.site_ids:
            controlled = self._controlled(session, principal, site, measure, key, rows, go_live,
                                          options, comparators)
        return SiteImpact(key, site, measure, None, estimate, controlled)

    def _controlled(self, session: Session, principal: Principal, site: Site, measure: Measure,
                    key: SeriesRef, rows: Sequence[AggregateRow], go_live: str,
                    options: its.Options, comparators: Comparators) -> its.Controlled:
        last = max(periods.parse_period(row.period) for row in rows)
        if comparators.site_ids:
            chosen = _named_comparators(session, site, comparators.site_ids, last)
        else:
            candidates = store.project_sites(session, site.project_id)
            chosen = [other for other in (candidates.sites if candidates else ())
                      if other.id != site.id and not impact_domain.live_by(other, last)]
        series = {other.id: store.series(session, measure.id, Level.SITE, other.id, key.stratum)
                  for other in chosen}
        series = {site_id: found for site_id, found in series.items() if found}
        if not series:
            raise FailedPrecondition(
                f"site {site.id} ({site.name}) has no comparator: no other site of project "
                f"{site.project_id} with data for {measure.id} had not gone live by {last.id}")
        control_rows = [row for found in series.values() for row in found]
        withheld = impact_domain.withheld_reason(control_rows, measure, principal,
                                                 self._marks(session, principal, measure,
                                                             control_rows),
                             "the comparators' series")
        if withheld:
            raise FailedPrecondition(f"the controlled estimate is withheld: {withheld}")
        control = impact_domain.summed(control_rows, measure)
        try:
            return its.fit_controlled(impact_domain.points(rows, measure), control, go_live,
                                      measure.type, options, comparators=sorted(series),
                                      label=f"site {site.id} ({site.name}) against comparators")
        except its.ImpactNotEstimable as exc:
            raise FailedPrecondition(str(exc)) from None

    # ------------------------------------------------------------- a project's sites

    def pooled_impact(self, principal: Principal, project_id: str, measure_id: str,
                      stratum: str, options: its.Options,
                      reference_stratum: str = "") -> PooledImpact:
        """The pooled estimate of a stratum and, given a reference stratum, the ratio of
        its level change to the reference's (does the gap between groups narrow?)."""
        with self._db.read() as session:
            pooled = self._pooled(session, principal, project_id, measure_id, stratum,
                                  options)
            if not reference_stratum or pooled.withheld:
                return pooled
            try:
                reference = self._pooled(session, principal, project_id, measure_id,
                                         reference_stratum, options)
            except InvalidArgument as exc:
                raise InvalidArgument("reference_stratum", exc.message) from None
            except FailedPrecondition as exc:
                raise FailedPrecondition(f"the reference stratum: {exc}") from None
        if reference.withheld:
            raise FailedPrecondition(f"the reference stratum's estimate is withheld: "
                                     f"{reference.withheld}")
        assert pooled.random_effects is not None and reference.random_effects is not None
        ratio = its.ratio_of_effects(pooled.random_effects.level_change,
                                     reference.random_effects.level_change)
        return dataclasses.replace(pooled, reference_stratum=reference.stratum,
                                   ratio_to_reference=ratio)

    def _pooled(self, session: Session, principal: Principal, project_id: str, measure_id: str,
                stratum: str, options: its.Options,
                reused: dict[tuple[str, str, str], its.Estimate] | None = None) -> PooledImpact:
        project = store.project_sites(session, project_id)
        if project is None:
            raise NotFound(f"project {project_id!r} is not known to evaluation")
        measure, key = _resolve(session, SeriesRef(measure_id, Level.PROJECT, project_id,
                                                   stratum))
        if measure.project_id != project_id:
            raise InvalidArgument("measure_id", f"measure {measure.id} belongs to project "
                                  f"{measure.project_id}, not {project_id}")
        options = _options(options, measure)
        loaded = [(site, store.series(session, measure.id, Level.SITE, site.id, key.stratum))
                  for site in project.sites]
        every_row = [row for _, rows in loaded for row in rows]
        withheld = impact_domain.withheld_reason(every_row, measure, principal,
                                                 self._marks(session, principal, measure,
                                                             every_row),
                             f"project {project_id}'s site series")
        if withheld:
            return PooledImpact(project_id, measure, key.stratum, withheld, (), None, None)
        results: list[PooledSite] = []
        usable: list[tuple[str, list[its.Point], str]] = []
        for site, rows in loaded:
            label = f"site {site.id} ({site.name})"
            if site.go_live is None:
                results.append(PooledSite(site, None, f"{label} has no go-live date"))
                continue
            go_live = impact_domain.period_of(site.go_live, measure).id
            estimate = (reused or {}).get((measure.id, site.id, key.stratum))
            if estimate is None or estimate.go_live_period != go_live or \
                    estimate.options != options:
                try:
                    estimate = its.fit_series(impact_domain.points(rows, measure), go_live,
                                              measure.type, options, measure.multiplier, label)
                except its.ImpactNotEstimable as exc:
                    results.append(PooledSite(site, None, str(exc)))
                    continue
            results.append(PooledSite(site, estimate, ""))
            usable.append((site.id, impact_domain.points(rows, measure), go_live))
        estimates = [r.estimate for r in results if r.estimate is not None]
        if len(estimates) < 2:
            reasons = "; ".join(r.not_estimable for r in results if r.not_estimable)
            raise FailedPrecondition(
                f"project {project_id} has {len(estimates)} site(s) with an estimate of "
                f"{measure.id}{' for ' + key.stratum if key.stratum else ''}: pooling needs "
                f"at least 2{' (' + reasons + ')' if reasons else ''}")
        try:
            random = its.random_effects(estimates)
            fixed = its.site_fixed_effects(usable, measure.type, options)
        except its.ImpactNotEstimable as exc:
            raise FailedPrecondition(str(exc)) from None
        return PooledImpact(project_id, measure, key.stratum, None, tuple(results), random,
                            fixed)

    # ------------------------------------------------------------- live recomputation

    def recompute_due(self, delay: timedelta, limit: int = 50) -> int:
        """Recompute the estimates whose series changed at least ``delay`` ago (changes
        within it are taken together) and publish them; how many were recomputed.

        Each estimate is computed in a read transaction, and the round's are published
        in one short write transaction, so the consumers' writes never wait for a fit.
        A change that lands in between leaves the estimate marked (its change counter
        moved): it is computed again in a later round. Sites' estimates come first, and the
        project's pooled estimates reuse those computed in the same round."""
        with self._db.read() as session:
            due = store.due_impacts(session, self._clock() - delay, limit)
        due.sort(key=lambda pending: pending.scope != SITE_SCOPE)
        reused: dict[tuple[str, str, str], its.Estimate] = {}
        found = []
        for pending in due:
            began = time.perf_counter()
            with self._db.read() as session:
                found.append(self._estimate_pending(session, pending, reused))
            pause(self._idle_share * (time.perf_counter() - began))
        if due:  # one write for the round: the consumers wait for the writer lock once
            with self._db.transaction() as session:
                for pending, event in zip(due, found, strict=True):
                    if event is not None:
                        events.impact_estimated(session, *event)
                    store.finish_impact(session, pending, self._clock())
        return len(due)

    def _estimate_pending(self, session: Session, pending: store.PendingImpact,
                          reused: dict[tuple[str, str, str], its.Estimate]
                          ) -> tuple[str, Message] | None:
        """The event of a marked estimate (for the shared audience, default options),
        or None when it cannot be estimated: nothing is published for a failed one."""
        options = its.Options()
        key = impact_convert.impact_key(pending.measure_id, pending.scope, pending.unit,
                                        pending.stratum)
        try:
            if pending.scope == SITE_SCOPE:
                result = self._site_impact(session, SHARED_AUDIENCE, SeriesRef(
                    pending.measure_id, Level.SITE, pending.unit, pending.stratum), options,
                    NO_COMPARATORS)
                if result.estimate is not None:
                    reused[pending.measure_id, pending.unit, result.key.stratum] = \
                        result.estimate
                return key, impact_convert.site_event(result, self._clock())
            pooled = self._pooled(session, SHARED_AUDIENCE, pending.unit, pending.measure_id,
                                  pending.stratum, options, reused)
            return key, impact_convert.pooled_event(pooled, self._clock())
        except (FailedPrecondition, NotFound, InvalidArgument) as exc:
            log.info("impact of %s not published: %s", pending, exc)
            return None


    def _marks(self, session: Session, principal: Principal, measure: Measure,
               rows: Sequence[AggregateRow]) -> dict[tuple[str, CellKey], Marks]:
        """What the disclosure pattern of the rows' periods withholds (the queries'
        pattern: an estimate must not disclose what a series answer hides)."""
        if principal.role is Role.NATIONAL_ADMIN or not rows:
            return {}
        periods = sorted({row.period for row in rows})
        return self._patterns(store.period_aggregates(session, measure.id, periods), measure)


def pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _estimate(rows: Sequence[AggregateRow], go_live: str, measure: Measure,
              options: its.Options, label: str) -> its.Estimate:
    try:
        return its.fit_series(impact_domain.points(rows, measure), go_live, measure.type, options,
                              measure.multiplier, label)
    except its.ImpactNotEstimable as exc:
        raise FailedPrecondition(str(exc)) from None


def _resolve(session: Session, key: SeriesRef) -> tuple[Measure, SeriesRef]:
    measure = store.get_measure(session, key.measure_id)
    if measure is None:
        raise NotFound(f"measure {key.measure_id!r} is not defined")
    try:
        stratum = domain.canonical_series_stratum(key.stratum, measure)
        unit = domain.canonical_unit(key.level, key.unit)
    except InvalidArgument as exc:
        raise InvalidArgument(f"series.{exc.field}", exc.message) from None
    return measure, SeriesRef(measure.id, key.level, unit, stratum)


def _named_comparators(session: Session, site: Site, ids: Sequence[str],
                       last: Period) -> list[Site]:
    found = store.sites_by_id(session, ids)
    chosen = []
    for index, site_id in enumerate(ids):
        field = f"comparators.site_ids.{index}"
        other = found.get(site_id)
        if other is None:
            raise InvalidArgument(field, f"unknown site {site_id!r}")
        if other.id == site.id:
            raise InvalidArgument(field, "a site cannot be its own comparator")
        if other.project_id != site.project_id:
            raise InvalidArgument(field, f"site {site_id} is a site of project "
                                  f"{other.project_id}, not {site.project_id}")
        if impact_domain.live_by(other, last):
            raise InvalidArgument(field, f"site {site_id} went live on "
                                  f"{other.go_live}, within the series: it is no comparator")
        chosen.append(other)
    return chosen


class ImpactWorker:
    """Recomputes pending estimates in the background (a thread of the service)."""

    name = "impact recomputation"

    def __init__(self, app: ImpactApp, delay: timedelta, poll_seconds: float = 0.25, *,
                 enabled: bool = True) -> None:
        self._app = app
        self._delay = delay
        self._poll = poll_seconds
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impact", daemon=True)
        self._failed = False

    @property
    def healthy(self) -> bool:
        return not self._failed

    def start(self) -> None:
        if self._enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)  # a round in progress ends within its fits

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._app.recompute_due(self._delay):
                    self._stop.wait(self._poll)
        except Exception:
            log.exception("impact recomputation stopped")
            self._failed = True
