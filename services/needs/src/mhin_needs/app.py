"""needs-intake use cases: each one transaction that loads, applies a domain rule,
stores the result and records its event in the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from mhin_needs import domain, events, store
from mhin_needs.domain import AlignmentKind, Need, NeedDraft
from mhin_platform.auth import Principal, require_write
from mhin_platform.errors import InvalidArgument, PermissionDenied
from mhin_platform.reference import PriorityArea
from mhin_platform.usecases import UseCases, time_keyset

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class ImportRow:
    row_number: int
    import_key: str
    draft: NeedDraft | None  # None when the row did not validate
    error: InvalidArgument | None = None


@dataclass(frozen=True)
class RowResult:
    row_number: int
    outcome: str  # "imported" | "already_imported" | "invalid"
    need_id: str = ""
    field: str = ""
    message: str = ""


class NeedsApp(UseCases):
    max_id_length = 36

    def submit(self, principal: Principal, draft: NeedDraft, idempotency_key: str = "") -> Need:
        _check_key(idempotency_key, "idempotency_key")
        require_write(principal, draft.arc)
        with self._db.transaction() as session:
            key = f"submit:{idempotency_key}" if idempotency_key else ""
            if key and (earlier := store.request_keys.find(session, key)):
                return earlier
            need = domain.submit(draft, self._new_id(), self._clock())
            store.documents.add(session, need)
            if key:
                store.request_keys.remember(session, key, need)
            events.need_submitted(session, need)
        return need

    def import_rows(self, principal: Principal, rows: list[ImportRow]) -> list[RowResult]:
        """Record every valid row once; report every row. All recorded rows commit
        together, so a failure part-way leaves nothing half-imported."""
        results: list[RowResult] = []
        with self._db.transaction() as session:
            for row in rows:
                results.append(self._import_row(session, principal, row))
        return results

    def _import_row(self, session, principal: Principal, row: ImportRow) -> RowResult:
        number = row.row_number
        if row.error is not None:
            return RowResult(number, "invalid", field=row.error.field, message=row.error.message)
        assert row.draft is not None
        if not row.import_key or len(row.import_key) > MAX_KEY_LENGTH:
            return RowResult(number, "invalid", field="import_key",
                             message=f"must be 1 to {MAX_KEY_LENGTH} characters")
        try:
            require_write(principal, row.draft.arc)
        except PermissionDenied as exc:
            return RowResult(number, "invalid", field="need.arc", message=str(exc))
        key = f"import:{row.import_key}"
        if earlier := store.request_keys.find(session, key):
            return RowResult(number, "already_imported", need_id=earlier.id)
        need = domain.submit(row.draft, self._new_id(), self._clock())
        store.documents.add(session, need)
        store.request_keys.remember(session, key, need)
        events.need_submitted(session, need)
        return RowResult(number, "imported", need_id=need.id)

    def get(self, need_id: str) -> Need:
        return self._one(store.documents, need_id, "need_id")

    def list(self, where: domain.NeedFilter, page_size: int,
             page_token: str) -> tuple[list[Need], str]:
        return self._page(lambda session, after, limit: store.list_needs(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda need: [need.submitted_at.isoformat(), need.id], time_keyset)

    def categorise(self, principal: Principal, need_id: str, area: PriorityArea) -> Need:
        self._check_id(need_id, "need_id")
        with self._db.transaction() as session:
            need = store.documents.get(session, need_id)
            require_write(principal, need.arc)
            changed = domain.categorise(need, area, self._clock())
            if changed is None:
                return need
            store.documents.replace(session, changed)
            events.need_categorised(session, changed, previous=need.priority_area)
        return changed

    def align(self, principal: Principal, need_id: str, aligned_need_id: str,
              kind: AlignmentKind, note: str) -> tuple[Need, Need]:
        self._check_id(need_id, "need_id")
        self._check_id(aligned_need_id, "aligned_need_id")
        with self._db.transaction() as session:
            need = store.documents.get(session, need_id)
            other = store.documents.get(session, aligned_need_id)
            require_write(principal, need.arc)
            require_write(principal, other.arc)
            changed = domain.align(need, other, kind, note, self._clock())
            if changed is None:
                return need, other
            for updated, alignment in ((changed[0], changed[0].alignments[-1]),
                                       (changed[1], changed[1].alignments[-1])):
                store.documents.replace(session, updated)
                events.need_aligned(session, updated, alignment)
        return changed

    def withdraw(self, principal: Principal, need_id: str, reason: str) -> Need:
        def rule(need: Need) -> Need:
            require_write(principal, need.arc)
            return domain.withdraw(need, reason, self._clock())

        return self._change(store.documents, need_id, "need_id", rule, events.need_withdrawn)


def _check_key(value: str, field: str) -> None:
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidArgument(field, f"at most {MAX_KEY_LENGTH} characters")
