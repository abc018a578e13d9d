"""gRPC servicers for mhin.catalogue.v1: translation only (requests to domain
values, results to responses); the rules live in domain and mcda, the transactions
in app."""

from __future__ import annotations

import grpc

from mhin.catalogue.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    prioritisation_pb2,
    prioritisation_pb2_grpc,
)
from mhin_catalogue import convert, domain, mcda
from mhin_catalogue.app import CatalogueApp, PrioritisationApp
from mhin_catalogue.domain import SolutionFilter
from mhin_platform.auth import current_principal
from mhin_platform.paging import page_size
from mhin_platform.protoconv import enum_from_proto
from mhin_platform.reference import PriorityArea

CATALOGUE_SERVICE = catalogue_pb2.DESCRIPTOR.services_by_name["SolutionCatalogueService"]
PRIORITISATION_SERVICE = prioritisation_pb2.DESCRIPTOR.services_by_name["PrioritisationService"]


class SolutionCatalogueServicer(catalogue_pb2_grpc.SolutionCatalogueServiceServicer):
    def __init__(self, app: CatalogueApp) -> None:
        self._app = app

    def CatalogueSolution(self, request, context):
        solution = self._app.catalogue(current_principal(),
                                       convert.draft_from_proto(request.solution))
        return catalogue_pb2.CatalogueSolutionResponse(
            solution=convert.solution_to_proto(solution))

    def ReviseSolution(self, request, context):
        solution = self._app.revise(current_principal(), request.solution_id,
                                    convert.draft_from_proto(request.solution),
                                    request.expected_version or None)
        return catalogue_pb2.ReviseSolutionResponse(solution=convert.solution_to_proto(solution))

    def RetireSolution(self, request, context):
        solution = self._app.retire(current_principal(), request.solution_id, request.reason)
        return catalogue_pb2.RetireSolutionResponse(solution=convert.solution_to_proto(solution))

    def GetSolution(self, request, context):
        return catalogue_pb2.GetSolutionResponse(
            solution=convert.solution_to_proto(self._app.get(request.solution_id)))

    def ListSolutions(self, request, context):
        where = SolutionFilter(
            text=request.text.strip(),
            priority_area=enum_from_proto(PriorityArea, convert.AREA, request.priority_area,
                                          "priority_area", required=False),
            readiness=enum_from_proto(domain.Readiness, convert.READINESS, request.readiness,
                                      "readiness", required=False),
            evidence_level=enum_from_proto(domain.EvidenceLevel, convert.EVIDENCE_LEVEL,
                                           request.evidence_level, "evidence_level",
                                           required=False),
            status=enum_from_proto(domain.SolutionStatus, convert.SOLUTION_STATUS,
                                   request.status, "status", required=False),
        )
        solutions, token = self._app.list_solutions(where, page_size(request.page.page_size),
                                          request.page.page_token)
        return catalogue_pb2.ListSolutionsResponse(
            solutions=[convert.solution_to_proto(s) for s in solutions],
            page={"next_page_token": token})

    def LinkSolutionToNeed(self, request, context):
        solution = self._app.link(current_principal(), request.solution_id, request.need_id)
        return catalogue_pb2.LinkSolutionToNeedResponse(
            solution=convert.solution_to_proto(solution))

    def UnlinkSolutionFromNeed(self, request, context):
        solution = self._app.unlink(current_principal(), request.solution_id, request.need_id)
        return catalogue_pb2.UnlinkSolutionFromNeedResponse(
            solution=convert.solution_to_proto(solution))

    def ListCandidateSolutions(self, request, context):
        need, linked, candidates = self._app.candidates(request.need_id)
        return catalogue_pb2.ListCandidateSolutionsResponse(
            need=convert.need_summary_to_proto(need),
            linked_solutions=[convert.solution_to_proto(s) for s in linked],
            candidate_solutions=[convert.solution_to_proto(s) for s in candidates])

    def ListUnmetNeeds(self, request, context):
        area = enum_from_proto(PriorityArea, convert.AREA, request.priority_area,
                               "priority_area", required=False)
        needs, token = self._app.unmet_needs(area, page_size(request.page.page_size),
                                             request.page.page_token)
        return catalogue_pb2.ListUnmetNeedsResponse(
            needs=[convert.need_summary_to_proto(n) for n in needs],
            page={"next_page_token": token})


class PrioritisationServicer(prioritisation_pb2_grpc.PrioritisationServiceServicer):
    def __init__(self, app: PrioritisationApp) -> None:
        self._app = app

    def RecordRound(self, request, context):
        round_ = self._app.record(current_principal(),
                                  convert.round_draft_from_proto(request.round),
                                  request.idempotency_key)
        return prioritisation_pb2.RecordRoundResponse(round=convert.round_to_proto(round_))

    def GetRound(self, request, context):
        return prioritisation_pb2.GetRoundResponse(
            round=convert.round_to_proto(self._app.get(request.round_id)))

    def ListRounds(self, request, context):
        status = enum_from_proto(mcda.RoundStatus, convert.ROUND_STATUS, request.status,
                                 "status", required=False)
        rounds, token = self._app.list_rounds(status, page_size(request.page.page_size),
                                       request.page.page_token)
        return prioritisation_pb2.ListRoundsResponse(
            rounds=[convert.round_to_proto(r) for r in rounds], page={"next_page_token": token})

    def CloseRound(self, request, context):
        round_ = self._app.close(current_principal(), request.round_id)
        return prioritisation_pb2.CloseRoundResponse(round=convert.round_to_proto(round_))

    def ListDefaultCriteria(self, request, context):
        return prioritisation_pb2.ListDefaultCriteriaResponse(
            criteria=[convert.criterion_to_proto(c) for c in self._app.default_criteria()])


def register(server: grpc.Server, catalogue: CatalogueApp,
             prioritisation: PrioritisationApp) -> list[str]:
    catalogue_pb2_grpc.add_SolutionCatalogueServiceServicer_to_server(
        SolutionCatalogueServicer(catalogue), server)
    prioritisation_pb2_grpc.add_PrioritisationServiceServicer_to_server(
        PrioritisationServicer(prioritisation), server)
    return [CATALOGUE_SERVICE.full_name, PRIORITISATION_SERVICE.full_name]
