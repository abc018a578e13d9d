"""``mhin needs``: submit, import, list, categorise, align and withdraw needs."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin_cli.choices import enum_number, enum_words, reference_number
from mhin_cli.client import ServiceCommand, all_pages, connect, message_dict
from mhin_platform.protoconv import enum_to_proto, enum_unset
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

V = TypeVar("V", bound=int)

IMPORT_BATCH = 500
CSV_COLUMNS = ("organisation", "organisation_type", "arc", "title", "description")
OPTIONAL_COLUMNS = ("response_ref", "population", "age_group", "priority_area", "evidence",
                    "prior_study_citation", "prior_study_year", "policy_title", "policy_year")


class RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column


def _stub(address: str, token: str) -> needs_pb2_grpc.NeedsServiceStub:
    return needs_pb2_grpc.NeedsServiceStub(connect(address, token))


def _choice(parse: Callable[[str], Any], enum: _EnumTypeWrapper[V], column: str, text: str) -> V:
    try:
        return enum_to_proto(parse(text), enum)
    except ValueError as exc:
        raise RowError(column, str(exc)) from None


def _age_group(text: str) -> needs_pb2.AgeGroup.ValueType:
    if not text:
        return enum_unset(needs_pb2.AgeGroup)
    name = "AGE_GROUP_" + text.strip().upper().replace(" ", "_").replace("-", "_")
    if name not in needs_pb2.AgeGroup.keys():
        names = needs_pb2.AgeGroup.keys()[1:]
        choices = ", ".join(k.removeprefix("AGE_GROUP_").lower() for k in names)
        raise RowError("age_group", f"{text!r} is not one of: {choices}")
    return needs_pb2.AgeGroup.Value(name)


def _year(text: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RowError(column, f"{text!r} is not a year") from None


def _sources(row: dict[str, str]) -> list[needs_pb2.NeedSource]:
    sources = [needs_pb2.NeedSource(scoping_exercise=needs_pb2.ScopingExerciseResponse(
        response_ref=row.get("response_ref", "")))]
    if row.get("prior_study_citation"):
        sources.append(needs_pb2.NeedSource(prior_study=needs_pb2.PriorStudy(
            citation=row["prior_study_citation"],
            year=_year(row.get("prior_study_year", ""), "prior_study_year"))))
    if row.get("policy_title"):
        sources.append(needs_pb2.NeedSource(policy_document=needs_pb2.PolicyDocument(
            title=row["policy_title"], year=_year(row.get("policy_year", ""), "policy_year"))))
    return sources


def draft_from_row(row: dict[str, str]) -> needs_pb2.NeedDraft:
    """A scoping-exercise CSV row as a NeedDraft; RowError names the bad column."""
    return needs_pb2.NeedDraft(
        submitter=needs_pb2.Organisation(
            name=row["organisation"],
            type=_choice(OrganisationType.parse, organisation_pb2.OrganisationType,
                         "organisation_type", row["organisation_type"])),
        arc=_choice(Arc.parse, arc_pb2.Arc, "arc", row["arc"]),
        title=row["title"],
        description=row["description"],
        population=row.get("population", ""),
        age_group=_age_group(row.get("age_group", "")),
        priority_area=_choice(PriorityArea.parse, priority_area_pb2.PriorityArea,
                              "priority_area", row.get("priority_area") or "uncategorised"),
        sources=_sources(row),
        evidence_of_unmet_need=row.get("evidence", ""),
    )


def import_key(row: dict[str, str]) -> str:
    """The scoping response's own reference when it has one, else the row's content."""
    if row.get("response_ref"):
        return "scoping:" + row["response_ref"]
    canonical = json.dumps({k: row.get(k, "") for k in (*CSV_COLUMNS, *OPTIONAL_COLUMNS)},
                           sort_keys=True)
    return "row:" + hashlib.sha256(canonical.encode()).hexdigest()


def read_rows(path: Path) -> tuple[list[needs_pb2.ImportRow], list[dict[str, Any]]]:
    """Rows ready to send, and the rows that failed before reaching the service."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise click.ClickException(f"{path}: missing column(s): {', '.join(missing)}")
        rows, errors = [], []
        for number, row in enumerate(reader, start=2):  # row 1 is the header
            row = {k: (v or "").strip() for k, v in row.items() if k}
            try:
                rows.append(needs_pb2.ImportRow(row_number=number, import_key=import_key(row),
                                                need=draft_from_row(row)))
            except RowError as exc:
                errors.append({"row": number, "field": exc.column, "message": str(exc)})
    return rows, errors


def _batches(rows: list[needs_pb2.ImportRow]) -> Iterator[list[needs_pb2.ImportRow]]:
    for start in range(0, len(rows), IMPORT_BATCH):
        yield rows[start:start + IMPORT_BATCH]


def _print_need(need: needs_pb2.Need, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(message_dict(need)))
        return
    area = priority_area_pb2.PriorityArea.Name(need.priority_area).removeprefix("PRIORITY_AREA_")
    status = needs_pb2.NeedStatus.Name(need.status).removeprefix("NEED_STATUS_")
    arc = arc_pb2.Arc.Name(need.arc).removeprefix("ARC_")
    click.echo(f"{need.id}  {status:<11} {arc:<24} {area:<36} {need.title}")


@click.group()
def needs() -> None:
    """Unmet mental health needs (needs-intake)."""


service = ServiceCommand("needs-intake")


@needs.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@service.without_json
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_needs(csv_file: Path, address: str, token: str, as_json: bool) -> None:
    """Import scoping-exercise responses from CSV_FILE.

    Columns: organisation, organisation_type, arc, title, description (required);
    response_ref, population, age_group, priority_area, evidence, prior_study_citation,
    prior_study_year, policy_title, policy_year (optional). Good rows are imported
    once, even if the file is imported again; bad rows are reported with their row
    number and field. Exits 1 if any row was bad.
    """
    rows, report = read_rows(csv_file)
    outcomes = {"imported": 0, "already_imported": 0, "invalid": len(report)}
    stub = _stub(address, token)
    stderr = click.get_text_stream("stderr")
    progress = click.progressbar(length=len(rows), label="importing", file=stderr,
                                 hidden=not stderr.isatty())
    with progress as bar:
        for batch in _batches(rows):
            response = stub.ImportNeeds(needs_pb2.ImportNeedsRequest(rows=batch))
            for result in response.results:
                outcome = needs_pb2.ImportRowOutcome.Name(result.outcome).removeprefix(
                    "IMPORT_ROW_OUTCOME_").lower()
                outcomes[outcome] += 1
                if outcome == "invalid":
                    report.append({"row": result.row_number, "field": result.field,
                                   "message": result.message})
            bar.update(len(batch))
    report.sort(key=lambda item: item["row"])
    if as_json:
        click.echo(json.dumps({**outcomes, "errors": report}))
    else:
        click.echo(", ".join(f"{n} {name.replace('_', ' ')}" for name, n in outcomes.items()))
        for item in report:
            click.echo(f"row {item['row']}: {item['field']}: {item['message']}", err=True)
    if report:
        raise SystemExit(1)


def _source_option(text: str) -> needs_pb2.NeedSource:
    kind, _, rest = text.partition(":")
    if kind == "scoping":
        return needs_pb2.NeedSource(
            scoping_exercise=needs_pb2.ScopingExerciseResponse(response_ref=rest))
    detail, _, year = rest.rpartition(":")
    if kind in ("study", "policy") and detail and year.isdigit():
        if kind == "study":
            return needs_pb2.NeedSource(prior_study=needs_pb2.PriorStudy(citation=detail,
                                                                         year=int(year)))
        return needs_pb2.NeedSource(policy_document=needs_pb2.PolicyDocument(title=detail,
                                                                             year=int(year)))
    raise click.BadParameter(
        f"{text!r}: use scoping:REF, study:CITATION:YEAR or policy:TITLE:YEAR",
        param_hint="--source")


ARC = arc_pb2.Arc
AREA = priority_area_pb2.PriorityArea
ORG_TYPE = organisation_pb2.OrganisationType


@needs.command()
@click.option("--organisation", required=True, help="Submitting organisation's name.")
@click.option("--organisation-type", required=True, help="e.g. 'NHS trust', 'VCSE', 'education'.")
@click.option("--arc", required=True, help="ARC, e.g. 'Greater Manchester'.")
@click.option("--title", required=True)
@click.option("--description", required=True)
@click.option("--population", default="")
@click.option("--age-group", default="",
              help="children, young people, adults, older adults, all ages.")
@click.option("--area", default="uncategorised", show_default=True, help="Priority area.")
@click.option("--source", "sources", multiple=True, default=["scoping:"], show_default=True,
              help="scoping:REF, study:CITATION:YEAR or policy:TITLE:YEAR (repeatable).")
@click.option("--evidence", default="", help="Evidence that the need is unmet.")
@click.option("--idempotency-key", default="", help="Makes a retried submission safe.")
@service
def submit(organisation: str, organisation_type: str, arc: str, title: str, description: str,
           population: str, age_group: str, area: str, sources: tuple[str, ...], evidence: str,
           idempotency_key: str, address: str, token: str, as_json: bool) -> None:
    """Submit one need."""
    try:
        age = _age_group(age_group)
    except RowError as exc:
        raise click.BadParameter(str(exc), param_hint="--age-group") from None
    draft = needs_pb2.NeedDraft(
        submitter=needs_pb2.Organisation(
            name=organisation,
            type=reference_number(OrganisationType.parse, ORG_TYPE, "--organisation-type",
                                  organisation_type)),
        arc=reference_number(Arc.parse, ARC, "--arc", arc), title=title, description=description,
        population=population, age_group=age,
        priority_area=reference_number(PriorityArea.parse, AREA, "--area", area),
        sources=[_source_option(text) for text in sources], evidence_of_unmet_need=evidence)
    response = _stub(address, token).SubmitNeed(
        needs_pb2.SubmitNeedRequest(need=draft, idempotency_key=idempotency_key))
    _print_need(response.need, as_json)


@needs.command("list")
@click.option("--area", help="Priority area.")
@click.option("--arc", help="ARC.")
@click.option("--organisation-type", help="Submitter's organisation type.")
@click.option("--source-kind", type=click.Choice(enum_words(needs_pb2.SourceKind)))
@click.option("--status", type=click.Choice(enum_words(needs_pb2.NeedStatus)))
@service
def list_needs(area: str | None, arc: str | None, organisation_type: str | None,
               source_kind: str | None, status: str | None, address: str, token: str,
               as_json: bool) -> None:
    """List needs (all pages), oldest first."""
    request = needs_pb2.ListNeedsRequest(
        priority_area=reference_number(PriorityArea.parse, AREA, "--area", area),
        arc=reference_number(Arc.parse, ARC, "--arc", arc),
        organisation_type=reference_number(OrganisationType.parse, ORG_TYPE,
                                           "--organisation-type", organisation_type),
        source_kind=enum_number(needs_pb2.SourceKind, source_kind),
        status=enum_number(needs_pb2.NeedStatus, status))
    for need in all_pages(_stub(address, token).ListNeeds, request, "needs"):
        _print_need(need, as_json)


@needs.command()
@click.argument("need_id")
@service
def get(need_id: str, address: str, token: str, as_json: bool) -> None:
    """Show one need."""
    need = _stub(address, token).GetNeed(needs_pb2.GetNeedRequest(need_id=need_id)).need
    if as_json:
        _print_need(need, True)
    else:
        click.echo(json.dumps(message_dict(need), indent=2))


@needs.command()
@click.argument("need_id")
@click.argument("area")
@service
def categorise(need_id: str, area: str, address: str, token: str, as_json: bool) -> None:
    """Place NEED_ID in priority AREA."""
    request = needs_pb2.CategoriseNeedRequest(
        need_id=need_id, priority_area=reference_number(PriorityArea.parse, AREA, "AREA", area))
    _print_need(_stub(address, token).CategoriseNeed(request).need, as_json)


@needs.command()
@click.argument("need_id")
@click.argument("aligned_need_id")
@click.option("--kind", type=click.Choice(["same_need", "related"]), default="same_need",
              show_default=True)
@click.option("--note", default="")
@service
def align(need_id: str, aligned_need_id: str, kind: str, note: str, address: str, token: str,
          as_json: bool) -> None:
    """Record that NEED_ID and ALIGNED_NEED_ID are aligned."""
    request = needs_pb2.AlignNeedsRequest(
        need_id=need_id, aligned_need_id=aligned_need_id, note=note,
        kind=needs_pb2.AlignmentKind.Value(f"ALIGNMENT_KIND_{kind.upper()}"))
    response = _stub(address, token).AlignNeeds(request)
    _print_need(response.need, as_json)
    _print_need(response.aligned_need, as_json)


@needs.command()
@click.argument("need_id")
@click.option("--reason", required=True)
@service
def withdraw(need_id: str, reason: str, address: str, token: str, as_json: bool) -> None:
    """Withdraw NEED_ID (it stays on record)."""
    need = _stub(address, token).WithdrawNeed(
        needs_pb2.WithdrawNeedRequest(need_id=need_id, reason=reason)).need
    _print_need(need, as_json)
