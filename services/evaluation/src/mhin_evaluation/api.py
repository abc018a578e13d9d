"""gRPC servicer for mhin.evaluation.v1: translation only (requests to domain values,
results to responses); the rules live in domain, the transactions in app."""

from __future__ import annotations

import grpc

from mhin.evaluation.v1 import evaluation_pb2, evaluation_pb2_grpc
from mhin_evaluation import convert, impact_convert
from mhin_evaluation.app import EvaluationApp
from mhin_evaluation.domain import Stratifier
from mhin_evaluation.impact import ImpactApp
from mhin_evaluation.impact_domain import SeriesRef
from mhin_measures.hierarchy import SeriesKey
from mhin_platform.auth import current_principal
from mhin_platform.errors import InvalidArgument
from mhin_platform.paging import page_size
from mhin_platform.protoconv import enum_from_proto

SERVICE_NAME = evaluation_pb2.DESCRIPTOR.services_by_name["EvaluationService"].full_name


class EvaluationServicer(evaluation_pb2_grpc.EvaluationServiceServicer):
    def __init__(self, app: EvaluationApp, impact: ImpactApp) -> None:
        self._app = app
        self._impact = impact

    def DefineMeasure(self, request, context):
        draft = convert.measure_draft_from_proto(request.measure)
        measure = self._app.define_measure(current_principal(), draft)
        return evaluation_pb2.DefineMeasureResponse(measure=convert.measure_to_proto(measure))

    def GetMeasure(self, request, context):
        measure = self._app.get_measure(request.measure_id)
        return evaluation_pb2.GetMeasureResponse(
            measure=convert.measure_to_proto(measure),
            stratifier_groups=convert.stratifier_groups_to_proto(measure))

    def ListMeasures(self, request, context):
        measures, token = self._app.list_measures(
            request.project_id, page_size(request.page.page_size), request.page.page_token)
        return evaluation_pb2.ListMeasuresResponse(
            measures=[convert.measure_to_proto(m) for m in measures],
            page={"next_page_token": token})

    def GetProjectSites(self, request, context):
        return convert.project_sites_to_proto(self._app.project_sites(request.project_id))

    def SubmitObservation(self, request, context):
        draft = convert.observation_draft_from_proto(request.observation, "observation")
        observation, outcome = self._app.submit(current_principal(), draft)
        return evaluation_pb2.SubmitObservationResponse(
            result=convert.result_to_proto(observation, outcome))

    def SubmitObservations(self, request, context):
        results = self._app.submit_batch(current_principal(), _drafts(request.observations))
        return evaluation_pb2.SubmitObservationsResponse(
            results=[convert.result_to_proto(o, outcome) for o, outcome in results])

    def CheckObservations(self, request, context):
        problems = self._app.check_batch(current_principal(), _drafts(request.observations))
        return evaluation_pb2.CheckObservationsResponse(problems=[
            evaluation_pb2.ObservationProblem(index=p.index, field=p.field, message=p.message,
                                              permission_denied=p.permission_denied)
            for p in problems
        ])

    def GetAggregate(self, request, context):
        measure, aggregate = self._app.aggregate(current_principal(), _series(request.series),
                                                 request.period)
        return evaluation_pb2.GetAggregateResponse(
            aggregate=convert.aggregate_to_proto(aggregate, measure))

    def GetSeries(self, request, context):
        measure, points = self._app.series(current_principal(), _series(request.series))
        return evaluation_pb2.GetSeriesResponse(
            points=[convert.aggregate_to_proto(point, measure) for point in points])

    def GetBreakdown(self, request, context):
        breakdown = self._app.breakdown(
            current_principal(), request.measure_id,
            convert.level_from_proto(request.level, "level"), request.unit, request.period,
            enum_from_proto(Stratifier, convert.STRATIFIER, request.stratifier, "stratifier"))
        response = evaluation_pb2.GetBreakdownResponse(groups=[
            convert.aggregate_to_proto(group, breakdown.measure) for group in breakdown.groups])
        if breakdown.total is not None:
            response.total.CopyFrom(convert.aggregate_to_proto(breakdown.total, breakdown.measure))
        return response

    def GetSpc(self, request, context):
        if request.fix_after_n_points < 0:
            raise InvalidArgument("fix_after_n_points", "must be 0 (all points) or at least 2")
        return convert.spc_to_proto(self._app.spc(
            current_principal(), _series(request.series), list(request.rebase_periods),
            request.no_rebase, request.fix_after_n_points, request.screen_outliers))

    def GetImpact(self, request, context):
        key = _series(request.series)
        result = self._impact.site_impact(
            current_principal(), SeriesRef(key.measure_id, key.level, key.unit, key.stratum),
            impact_convert.options_from_proto(request.options),
            impact_convert.comparators_from_proto(request.comparators))
        return impact_convert.site_impact_to_proto(result)

    def GetPooledImpact(self, request, context):
        result = self._impact.pooled_impact(
            current_principal(), request.project_id, request.measure_id, request.stratum,
            impact_convert.options_from_proto(request.options), request.reference_stratum)
        return impact_convert.pooled_to_proto(result)


def _drafts(observations) -> list:
    return [convert.observation_draft_from_proto(o, f"observations.{index}")
            for index, o in enumerate(observations)]


def _series(message: evaluation_pb2.SeriesKey) -> SeriesKey:
    return SeriesKey(message.measure_id, convert.level_from_proto(message.level, "series.level"),
                     message.unit, message.stratum)


def register(server: grpc.Server, app: EvaluationApp, impact: ImpactApp) -> list[str]:
    evaluation_pb2_grpc.add_EvaluationServiceServicer_to_server(
        EvaluationServicer(app, impact), server)
    return [SERVICE_NAME]
