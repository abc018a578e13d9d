"""``mhin export``: a service's records as one CSV table, for spreadsheets and reports.

Every page is read before anything is written, so a failed call leaves no partial
file; ``--output`` is replaced only once the whole table is on disk. Nested fields
become dotted columns (``submitter.name``), lists of values are joined with "; ",
lists of records are kept as JSON in their cell; enums keep their contract names.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from mhin.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc
from mhin.evaluation.v1 import evaluation_pb2, evaluation_pb2_grpc
from mhin.governance.v1 import governance_pb2, governance_pb2_grpc
from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin.projects.v1 import projects_service_pb2, projects_service_pb2_grpc
from mhin_cli.client import address_option, all_pages, connect, readable_rpc_errors, token_option
from mhin_cli.evaluation import series_key, series_options

Row = dict[str, str]
output_option = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (replaced whole); default: standard output.")


@click.group()
def export() -> None:
    """Export records as CSV: needs, solutions, projects, measures, involvement, series."""


def record_row(message: Message) -> Row:
    """One record as CSV cells, every field of its contract present."""
    return _flattened(MessageToDict(message, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True))


def _flattened(value: dict[str, Any], prefix: str = "") -> Row:
    row: Row = {}
    for name, item in value.items():
        column = f"{prefix}{name}"
        if isinstance(item, dict):
            row.update(_flattened(item, f"{column}."))
        elif isinstance(item, list) and any(isinstance(x, dict | list) for x in item):
            row[column] = json.dumps(item, separators=(",", ":"))
        elif isinstance(item, list):
            row[column] = "; ".join(_cell(x) for x in item)
        else:
            row[column] = _cell(item)
    return row


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a count carried as a double: 40, not 40.0
    return str(value)


def write_table(rows: list[Row], output: Path | None) -> None:
    """The rows under a header of every column any of them has, in first-seen order:
    to ``output`` (replaced whole), or else to standard output."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    if output is None:
        _write(rows, columns, sys.stdout)
        return
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            _write(rows, columns, stream)
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise


def _write(rows: list[Row], columns: list[str], stream: TextIO) -> None:
    writer = csv.DictWriter(stream, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _export(records: Callable[[], Iterable[Message]], what: str, output: Path | None) -> None:
    with readable_rpc_errors():
        rows = [record_row(record) for record in records()]
    write_table(rows, output)
    if output is not None:
        click.echo(f"{len(rows)} {what} written to {output}", err=True)


def _command(name: str, service: str, **settings: Any) -> Callable[..., Any]:
    def decorate(command: Callable[..., Any]) -> Any:
        for option in (output_option, token_option, address_option(service)):
            command = option(command)
        return export.command(name, **settings)(command)
    return decorate


@dataclass(frozen=True)
class Listing:
    """A table exported whole from one paged list RPC."""

    name: str
    help: str
    service: str
    stub: Callable[[Any], Any]
    method: str
    request: Callable[[], Message]
    items: str


LISTINGS = (
    Listing("needs", "Every need, oldest first.", "needs-intake",
            needs_pb2_grpc.NeedsServiceStub, "ListNeeds", needs_pb2.ListNeedsRequest, "needs"),
    Listing("solutions", "Every catalogued solution, active and retired.",
            "solution-catalogue", catalogue_pb2_grpc.SolutionCatalogueServiceStub,
            "ListSolutions", catalogue_pb2.ListSolutionsRequest, "solutions"),
    Listing("projects", "Every project with its ARCs and phase.", "project-tracking",
            projects_service_pb2_grpc.ProjectsServiceStub, "ListProjects",
            projects_service_pb2.ListProjectsRequest, "projects"),
    Listing("involvement", "The whole patient and public involvement log, by date.",
            "governance", governance_pb2_grpc.GovernanceServiceStub, "ListInvolvement",
            governance_pb2.ListInvolvementRequest, "activities"),
    Listing("measures", "Every measure definition.", "evaluation",
            evaluation_pb2_grpc.EvaluationServiceStub, "ListMeasures",
            evaluation_pb2.ListMeasuresRequest, "measures"),
)


def _listing_command(listing: Listing) -> None:
    @_command(listing.name, listing.service, help=listing.help)
    def command(address: str, token: str, output: Path | None) -> None:
        list_page = getattr(listing.stub(connect(address, token)), listing.method)
        _export(lambda: all_pages(list_page, listing.request(), listing.items), listing.items,
                output)


for _listing in LISTINGS:
    _listing_command(_listing)


@_command("series", "evaluation")
@series_options
@click.option("--stratum", default="", help="Default: all strata combined.")
def export_series(measure_id: str, level: str, unit: str, stratum: str, address: str,
                  token: str, output: Path | None) -> None:
    """Every period of MEASURE_ID at one level and unit, oldest first, as you may see it:
    figures withheld from you are empty, with their *_suppressed column true."""
    stub = evaluation_pb2_grpc.EvaluationServiceStub(connect(address, token))
    request = evaluation_pb2.GetSeriesRequest(
        series=series_key(measure_id, level, unit, stratum))
    _export(lambda: stub.GetSeries(request).points, "periods", output)
