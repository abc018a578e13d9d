"""Use cases of the pages: each calls the services' gRPC APIs with the signed-in
user's token, so every figure carries exactly the disclosure control that user gets
through gRPC, and builds a page's view. The web owns no data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import grpc

from mhin.catalogue.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    prioritisation_pb2,
    prioritisation_pb2_grpc,
)
from mhin.common.v1 import page_pb2
from mhin.evaluation.v1 import evaluation_pb2, evaluation_pb2_grpc, measure_definition_pb2
from mhin.governance.v1 import governance_pb2, governance_pb2_grpc
from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin.projects.v1 import projects_service_pb2, projects_service_pb2_grpc
from mhin_measures.hierarchy import NATIONAL_UNIT, Level
from mhin_platform.protoconv import date_to_proto
from mhin_platform.reference import Arc
from mhin_web import convert, domain
from mhin_web.domain import (
    BadRequest,
    Breakdown,
    Impact,
    SeriesRequest,
    SpcChart,
    Table,
)

PAGE_SIZE = 200
NETWORK_START = date(2021, 4, 1)  # the scoping exercise: involvement is reported from then
CALL_TIMEOUT_SECONDS = 10.0


class SignedOut(Exception):
    """The services refused the token (expired, or never valid): sign in again."""


class Refused(Exception):
    """A service refused the call for this user (PERMISSION_DENIED, NOT_FOUND, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
}


async def call(method: Callable[..., Awaitable[Any]], request: Any, token: str) -> Any:
    """One gRPC call as the user; a refusal becomes SignedOut or Refused (a 4xx page);
    a service that is down is a 503, never a stack trace."""
    try:
        return await method(request, metadata=(("authorization", f"Bearer {token}"),),
                            timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.UNAUTHENTICATED:
            raise SignedOut(error.details()) from None
        status = _HTTP_STATUS.get(error.code(), 503)
        raise Refused(status, error.details() or error.code().name) from None


async def all_pages(method: Callable[..., Awaitable[Any]], request: Any, items: str,
                    token: str) -> list[Any]:
    found: list[Any] = []
    request.page.page_size = PAGE_SIZE
    while True:
        answer = await call(method, request, token)
        found += list(getattr(answer, items))
        if not answer.page.next_page_token:
            return found
        request.page.page_token = answer.page.next_page_token


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Section:
    """A part of a page, or why the user cannot see it (its service refused them)."""

    refused: str = ""
    tables: tuple[Table, ...] = ()
    items: tuple[Any, ...] = ()
    extra: Any = None


async def section(build: Awaitable[Section]) -> Section:
    try:
        return await build
    except Refused as refused:
        why = "Not shown to you" if refused.status == 403 else "Could not be shown"
        return Section(refused=f"{why}: {refused.message}")


@dataclass(frozen=True)
class OverviewView:
    needs: Section
    solutions: Section
    ranking: Section
    projects: Section


@dataclass(frozen=True)
class GovernanceView:
    meetings: Section
    decisions: Section
    involvement: Section


@dataclass(frozen=True)
class EvaluationView:
    """The evaluation page: where the user is (project → measure → level → stratum),
    what they may choose next, and the charts."""

    request: SeriesRequest
    project_name: str
    measures: list[Choice]
    measure_title: str
    units: dict[str, list[Choice]]  # level -> its units
    strata: list[Choice]
    stratifiers: list[Choice]
    stratifier: str
    spc: SpcChart | None
    breakdown: Breakdown | None
    impact: Impact | None = None  # site-level series only: the only level GetImpact answers


def arc_of(site: evaluation_pb2.ProjectSite) -> Arc:
    return Arc[convert.enum_name(site, "arc", "ARC_").upper().replace(" ", "_")]


class Services:
    """gRPC channels to the platform's services (one each, shared by every request)."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self._channels = {name: grpc.aio.insecure_channel(address)
                          for name, address in addresses.items()}
        self.evaluation = evaluation_pb2_grpc.EvaluationServiceStub(self._channels["evaluation"])
        self.projects = projects_service_pb2_grpc.ProjectsServiceStub(
            self._channels["project-tracking"])
        self.needs = needs_pb2_grpc.NeedsServiceStub(self._channels["needs-intake"])
        self.catalogue = catalogue_pb2_grpc.SolutionCatalogueServiceStub(
            self._channels["solution-catalogue"])
        self.prioritisation = prioritisation_pb2_grpc.PrioritisationServiceStub(
            self._channels["solution-catalogue"])
        self.governance = governance_pb2_grpc.GovernanceServiceStub(self._channels["governance"])

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))

    # ------------------------------------------------------------- sign-in

    async def check_token(self, token: str) -> None:
        """Whether the services take this token: a cheap read every role may make."""
        await call(self.evaluation.ListMeasures,
                   evaluation_pb2.ListMeasuresRequest(page=page_pb2.PageRequest(page_size=1)),
                   token)

    # ------------------------------------------------------------- evaluation

    async def projects_list(self, token: str) -> list[Any]:
        return await all_pages(self.projects.ListProjects,
                               projects_service_pb2.ListProjectsRequest(), "projects", token)

    async def evaluation_page(self, token: str, query: dict[str, str]) -> EvaluationView:
        wanted = SeriesRequest.parse(query)
        project, sites, measures = await asyncio.gather(
            call(self.projects.GetProject,
                 projects_service_pb2.GetProjectRequest(project_id=wanted.project_id), token),
            self._sites(wanted.project_id, token),
            all_pages(self.evaluation.ListMeasures,
                      evaluation_pb2.ListMeasuresRequest(project_id=wanted.project_id),
                      "measures", token))
        if not measures:
            raise Refused(404, f"project {wanted.project_id} has no measures yet")
        by_id = {m.id: m for m in measures}
        if wanted.measure_id and wanted.measure_id not in by_id:
            raise BadRequest("measure", f"{wanted.measure_id!r} is not a measure of project "
                             f"{wanted.project_id}")
        measure = by_id[wanted.measure_id or measures[0].id]
        wanted = SeriesRequest(wanted.project_id, measure.id, wanted.level, wanted.unit,
                               wanted.stratum)
        described = await call(self.evaluation.GetMeasure,
                               evaluation_pb2.GetMeasureRequest(measure_id=measure.id), token)
        strata = [Choice("", "Everyone")] + [
            Choice(f"{group.name}={value}", f"{group.name.replace('_', ' ')}: {value}")
            for group in described.stratifier_groups for value in group.groups]
        if wanted.stratum and wanted.stratum not in {choice.value for choice in strata}:
            raise BadRequest("stratum", f"{wanted.stratum!r} is not a stratum of {measure.id}")
        stratifiers = [Choice(group.name, group.name.replace("_", " "))
                       for group in described.stratifier_groups]
        stratifier = query.get("by") or (stratifiers[0].value if stratifiers else "")
        if stratifier and stratifier not in {choice.value for choice in stratifiers}:
            raise BadRequest("by", f"{stratifier!r} is not a stratifier of {measure.id}")
        units = {
            Level.NATIONAL.value: [Choice(NATIONAL_UNIT, "England")],
            Level.PROJECT.value: [Choice(project.project.id, project.project.name)],
            Level.ARC.value: sorted({Choice(arc.name, arc.value) for arc in map(arc_of, sites)},
                                    key=lambda choice: choice.label),
            Level.SITE.value: [Choice(site.site_id, site.name) for site in sites],
        }
        (spc, view_breakdown), impact = await asyncio.gather(
            self.charts(token, wanted, measure, stratifier, described.stratifier_groups),
            self.impact(token, wanted, measure.title))
        return EvaluationView(
            request=wanted, project_name=project.project.name,
            measures=[Choice(m.id, m.title) for m in measures], measure_title=measure.title,
            units=units, strata=strata, stratifiers=stratifiers, stratifier=stratifier,
            spc=spc, breakdown=view_breakdown, impact=impact)

    async def impact(self, token: str, wanted: SeriesRequest, title: str) -> Impact | None:
        """The site's impact estimate (default options), or the service's reason why it
        has none: a refusal here is a sentence on the page, never an error page."""
        if wanted.level is not Level.SITE:
            return None
        key = convert.series_key(wanted.measure_id, wanted.level, wanted.unit, wanted.stratum)
        try:
            answer = await call(self.evaluation.GetImpact,
                                evaluation_pb2.GetImpactRequest(series=key), token)
        except Refused as refused:
            why = {403: "Not shown to you", 409: "No impact estimate yet"}.get(
                refused.status, "The impact estimate could not be made")
            return Impact(reason=f"{why}: {refused.message}")
        return convert.impact(title, answer)

    async def charts(self, token: str, wanted: SeriesRequest,
                     measure: measure_definition_pb2.MeasureDefinition, stratifier: str,
                     groups: Any) -> tuple[SpcChart | None, Breakdown | None]:
        """The SPC chart of the series and the breakdown of its latest period."""
        key = convert.series_key(wanted.measure_id, wanted.level, wanted.unit, wanted.stratum)
        spc_answer, series = await asyncio.gather(
            call(self.evaluation.GetSpc, evaluation_pb2.GetSpcRequest(series=key), token),
            call(self.evaluation.GetSeries, evaluation_pb2.GetSeriesRequest(series=key), token))
        spc = convert.spc_chart(measure.title, spc_answer) if spc_answer.points else None
        stratifier_enum = next((g.stratifier for g in groups if g.name == stratifier), None)
        if not series.points or stratifier_enum is None:
            return spc, None
        latest = max(point.period for point in series.points)
        answer = await call(self.evaluation.GetBreakdown, evaluation_pb2.GetBreakdownRequest(
            measure_id=wanted.measure_id, level=convert.LEVELS[wanted.level], unit=wanted.unit,
            period=latest, stratifier=stratifier_enum), token)
        return spc, convert.breakdown(measure.title, stratifier.replace("_", " "), latest,
                                      answer)

    async def computed_at(self, token: str, wanted: SeriesRequest, stratum: str,
                          period: str) -> float:
        """When evaluation's answer for one cell of the followed series was computed."""
        key = convert.series_key(wanted.measure_id, wanted.level, wanted.unit, stratum)
        series = await call(self.evaluation.GetSeries, evaluation_pb2.GetSeriesRequest(
            series=key), token)
        return convert.newest_computed_at(list(series.points), stratum, period)

    async def _sites(self, project_id: str, token: str) -> list[Any]:
        try:
            answer = await call(self.evaluation.GetProjectSites,
                                evaluation_pb2.GetProjectSitesRequest(project_id=project_id),
                                token)
        except Refused as refused:
            if refused.status == 404:  # evaluation has not heard of its sites yet
                return []
            raise
        return list(answer.sites)

    # ------------------------------------------------------------- overview

    async def overview_page(self, token: str) -> OverviewView:
        needs, solutions, ranking, projects = await asyncio.gather(
            section(self._needs(token)), section(self._solutions(token)),
            section(self._ranking(token)), section(self._projects(token)))
        return OverviewView(needs, solutions, ranking, projects)

    async def _needs(self, token: str) -> Section:
        needs = await all_pages(self.needs.ListNeeds, needs_pb2.ListNeedsRequest(), "needs",
                                token)
        areas = domain.tally([convert.enum_name(n, "priority_area", "PRIORITY_AREA_")
                              .capitalize() for n in needs])
        sources = domain.tally([source.WhichOneof("kind").replace("_", " ").capitalize()
                                for n in needs for source in n.sources])
        return Section(tables=(
            domain.counts_table(f"Needs by priority area ({len(needs)} in all)", "Priority area",
                                areas),
            domain.counts_table("Needs by source (a need may have several)", "Source",
                                sources)))

    async def _solutions(self, token: str) -> Section:
        solutions = await all_pages(self.catalogue.ListSolutions,
                                    catalogue_pb2.ListSolutionsRequest(), "solutions", token)
        rows = [(s.name,
                 ", ".join(convert.area_name(area) for area in s.priority_areas) or "-",
                 convert.enum_name(s.evidence, "level", "EVIDENCE_LEVEL_").capitalize(),
                 ", ".join(s.evidence.nice_guidance) or "-",
                 convert.enum_name(s, "readiness", "READINESS_").capitalize())
                for s in sorted(solutions, key=lambda s: s.name)]
        return Section(tables=(Table(
            ("Solution", "Priority areas", "Evidence", "NICE guidance", "Readiness"), rows,
            caption=f"The solution catalogue: {len(solutions)} solutions"),))

    async def _ranking(self, token: str) -> Section:
        rounds = await all_pages(self.prioritisation.ListRounds,
                                 prioritisation_pb2.ListRoundsRequest(), "rounds", token)
        scored = [r for r in rounds if r.results.ranking]
        if not scored:
            return Section(extra=None)
        latest = max(scored, key=lambda r: r.created_at.ToMicroseconds())
        return Section(extra=convert.ranking(latest))

    async def _projects(self, token: str) -> Section:
        projects = await self.projects_list(token)
        return Section(items=tuple(convert.project_card(p) for p in projects))

    # ------------------------------------------------------------- governance

    async def governance_page(self, token: str, today: datetime | None = None
                              ) -> GovernanceView:
        today = today or datetime.now(UTC)
        meetings, decisions, involvement = await asyncio.gather(
            section(self._meetings(token, today)), section(self._decisions(token)),
            section(self._involvement(token)))
        return GovernanceView(meetings, decisions, involvement)

    async def _meetings(self, token: str, today: datetime) -> Section:
        request = governance_pb2.ListMeetingsRequest(
            status=governance_pb2.MEETING_STATUS_SCHEDULED,
            from_date=date_to_proto(today.date()))
        meetings = await all_pages(self.governance.ListMeetings, request, "meetings", token)
        rows = [(convert.date_text(m.date), m.title,
                 convert.enum_name(m, "body_kind", "BODY_KIND_").capitalize(),
                 str(len(m.agenda)))
                for m in sorted(meetings, key=lambda m: convert.date_text(m.date))]
        return Section(tables=(Table(("Date", "Meeting", "Body", "Agenda items"), rows,
                                     caption="Upcoming meetings"),))

    async def _decisions(self, token: str) -> Section:
        decisions = await all_pages(self.governance.ListDecisions,
                                    governance_pb2.ListDecisionsRequest(), "decisions", token)
        recent = sorted(decisions, key=lambda d: d.decided_at.ToMicroseconds(),
                        reverse=True)[:20]
        rows = [(convert.date_text(d.meeting_date),
                 convert.enum_name(d, "body_kind", "BODY_KIND_").capitalize(), d.motion,
                 convert.enum_name(d, "outcome", "DECISION_OUTCOME_").capitalize())
                for d in recent]
        return Section(tables=(Table(("Meeting date", "Body", "Motion", "Outcome"), rows,
                                     caption="Recent decisions"),))

    async def _involvement(self, token: str) -> Section:
        projects = await self.projects_list(token)
        today = datetime.now(UTC).date()
        start, end = date_to_proto(NETWORK_START), date_to_proto(today)
        reports = await asyncio.gather(*(
            call(self.governance.GetInvolvementReport,
                 governance_pb2.GetInvolvementReportRequest(
                     project_id=p.id, from_date=start, to_date=end), token)
            for p in projects))
        rows = []
        for project, answer in zip(projects, reports, strict=True):
            report = answer.report
            for kind in report.by_kind:
                rows.append((project.name,
                             convert.enum_name(kind, "kind", "INVOLVEMENT_KIND_").capitalize(),
                             str(kind.totals.activities), str(kind.totals.people),
                             str(kind.totals.experts_by_experience),
                             f"{kind.totals.hours:g}"))
            rows.append((project.name, "All kinds", str(report.totals.activities),
                         str(report.totals.people), str(report.totals.experts_by_experience),
                         f"{report.totals.hours:g}"))
        return Section(tables=(Table(
            ("Project", "Kind", "Activities", "People", "Experts by experience", "Hours"), rows,
            caption=f"Involvement (PPI) by project and kind, since {NETWORK_START:%B %Y}"),))
