"""gRPC servicer for mhin.needs.v1: translation only (requests to domain values,
results to responses); the rules live in domain, the transactions in app."""

from __future__ import annotations

import grpc

from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin_needs import convert, domain
from mhin_needs.app import ImportRow, NeedsApp
from mhin_needs.domain import NeedFilter
from mhin_platform.auth import current_principal
from mhin_platform.errors import InvalidArgument
from mhin_platform.paging import page_size
from mhin_platform.protoconv import enum_from_proto
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

MAX_IMPORT_ROWS = 5000
SERVICE_NAME = needs_pb2.DESCRIPTOR.services_by_name["NeedsService"].full_name

_OUTCOMES = {
    "imported": needs_pb2.IMPORT_ROW_OUTCOME_IMPORTED,
    "already_imported": needs_pb2.IMPORT_ROW_OUTCOME_ALREADY_IMPORTED,
    "invalid": needs_pb2.IMPORT_ROW_OUTCOME_INVALID,
}


class NeedsServicer(needs_pb2_grpc.NeedsServiceServicer):
    def __init__(self, app: NeedsApp) -> None:
        self._app = app

    def SubmitNeed(self, request, context):
        draft = convert.draft_from_proto(request.need)
        need = self._app.submit(current_principal(), draft, request.idempotency_key)
        return needs_pb2.SubmitNeedResponse(need=convert.need_to_proto(need))

    def ImportNeeds(self, request, context):
        if len(request.rows) > MAX_IMPORT_ROWS:
            raise InvalidArgument("rows", f"at most {MAX_IMPORT_ROWS} rows per call")
        rows = [_import_row(row) for row in request.rows]
        results = self._app.import_rows(current_principal(), rows)
        return needs_pb2.ImportNeedsResponse(results=[
            needs_pb2.ImportRowResult(row_number=r.row_number, outcome=_OUTCOMES[r.outcome],
                                      need_id=r.need_id, field=r.field, message=r.message)
            for r in results
        ])

    def GetNeed(self, request, context):
        return needs_pb2.GetNeedResponse(need=convert.need_to_proto(self._app.get(request.need_id)))

    def ListNeeds(self, request, context):
        where = NeedFilter(
            priority_area=enum_from_proto(PriorityArea, convert.AREA, request.priority_area,
                                          "priority_area", required=False),
            arc=enum_from_proto(Arc, convert.ARC, request.arc, "arc", required=False),
            organisation_type=enum_from_proto(OrganisationType, convert.ORG_TYPE,
                                              request.organisation_type, "organisation_type",
                                              required=False),
            source_kind=enum_from_proto(domain.SourceKind, convert.SOURCE_KIND,
                                        request.source_kind, "source_kind", required=False),
            status=enum_from_proto(domain.NeedStatus, convert.STATUS, request.status, "status",
                                   required=False),
        )
        needs, token = self._app.list(where, page_size(request.page.page_size),
                                      request.page.page_token)
        return needs_pb2.ListNeedsResponse(
            needs=[convert.need_to_proto(need) for need in needs],
            page={"next_page_token": token},
        )

    def CategoriseNeed(self, request, context):
        area = enum_from_proto(PriorityArea, convert.AREA, request.priority_area, "priority_area")
        need = self._app.categorise(current_principal(), request.need_id, area)
        return needs_pb2.CategoriseNeedResponse(need=convert.need_to_proto(need))

    def AlignNeeds(self, request, context):
        kind = enum_from_proto(domain.AlignmentKind, convert.ALIGNMENT_KIND, request.kind, "kind")
        if len(request.note) > 1000:
            raise InvalidArgument("note", "at most 1000 characters")
        need, other = self._app.align(current_principal(), request.need_id,
                                      request.aligned_need_id, kind, request.note)
        return needs_pb2.AlignNeedsResponse(need=convert.need_to_proto(need),
                                            aligned_need=convert.need_to_proto(other))

    def WithdrawNeed(self, request, context):
        need = self._app.withdraw(current_principal(), request.need_id, request.reason)
        return needs_pb2.WithdrawNeedResponse(need=convert.need_to_proto(need))


def _import_row(row: needs_pb2.ImportRow) -> ImportRow:
    try:
        draft = convert.draft_from_proto(row.need)
    except InvalidArgument as exc:
        return ImportRow(row.row_number, row.import_key, None, exc)
    return ImportRow(row.row_number, row.import_key, draft)


def register(server: grpc.Server, app: NeedsApp) -> list[str]:
    needs_pb2_grpc.add_NeedsServiceServicer_to_server(NeedsServicer(app), server)
    return [SERVICE_NAME]
