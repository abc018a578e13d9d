"""``mhin evaluation``: measure definitions, observations (one, or a CSV file in
batches) and the aggregates, series, breakdowns and SPC charts built from them."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
from google.protobuf import json_format

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    evaluation_pb2_grpc,
    measure_definition_pb2,
    measure_pb2,
)
from mhin_cli.client import ServiceCommand, all_pages, connect, message_dict
from mhin_platform.reference import Arc

CSV_COLUMNS = ("measure_id", "site_id", "period", "stratum", "numerator", "denominator")
BATCH_SIZE = 2_000
MAX_BATCH_SIZE = 10_000
LEVELS = ("site", "arc", "project", "national")

service = ServiceCommand("evaluation")


def _stub(address: str, token: str) -> evaluation_pb2_grpc.EvaluationServiceStub:
    return evaluation_pb2_grpc.EvaluationServiceStub(connect(address, token))


def _name(enum: Any, number: int, prefix: str) -> str:
    return enum.Name(number).removeprefix(prefix)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


@click.group()
def evaluation() -> None:
    """Evaluation of the projects: measures, observations, aggregates, SPC (evaluation)."""


# ----------------------------------------------------------------- measures


@evaluation.group()
def measures() -> None:
    """Measure definitions."""


def _tag(tag: measure_definition_pb2.MeasureTag) -> str:
    kind = tag.WhichOneof("kind")
    if kind == "re_aim":
        return "RE-AIM " + _name(measure_definition_pb2.ReAimDimension, tag.re_aim,
                                 "RE_AIM_DIMENSION_").title()
    if kind == "proctor":
        return "Proctor " + _name(measure_definition_pb2.ProctorOutcome, tag.proctor,
                                  "PROCTOR_OUTCOME_").replace("_", " ").title()
    return f"clinical: {tag.clinical_outcome}"


def _measure_line(measure: measure_definition_pb2.MeasureDefinition) -> str:
    kind = _name(measure_pb2.MeasureType, measure.type, "MEASURE_TYPE_").lower()
    frequency = _name(measure_definition_pb2.Frequency, measure.frequency, "FREQUENCY_").lower()
    return (f"{measure.id:<28} {measure.project_id:<16} {kind:<10} {frequency:<9} "
            f"{_tag(measure.tag):<30} {measure.title}")


@measures.command("list")
@click.option("--project", "project_id", default="", help="Only this project's measures.")
@service
def list_measures(project_id: str, address: str, token: str, as_json: bool) -> None:
    """List measure definitions (all pages), by id."""
    request = evaluation_pb2.ListMeasuresRequest(project_id=project_id)
    for measure in all_pages(_stub(address, token).ListMeasures, request, "measures"):
        click.echo(json.dumps(message_dict(measure)) if as_json else _measure_line(measure))


@measures.command("show")
@click.argument("measure_id")
@service
def show_measure(measure_id: str, address: str, token: str, as_json: bool) -> None:
    """Show MEASURE_ID's definition and the groups of its stratifiers."""
    response = _stub(address, token).GetMeasure(
        evaluation_pb2.GetMeasureRequest(measure_id=measure_id))
    if as_json:
        click.echo(json.dumps(message_dict(response)))
        return
    measure = response.measure
    direction = _name(measure_pb2.Direction, measure.direction, "DIRECTION_").lower()
    click.echo(_measure_line(measure))
    click.echo(f"  numerator:   {measure.numerator}")
    if measure.denominator:
        click.echo(f"  denominator: {measure.denominator}  (x {measure.multiplier:g})")
    click.echo(f"  better:      {'neither' if direction == 'unspecified' else direction}")
    for stratifier in response.stratifier_groups:
        click.echo(f"  stratum {stratifier.name}: {', '.join(stratifier.groups)}")


@measures.command("define")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@service
def define_measure(path: Path, address: str, token: str, as_json: bool) -> None:
    """Define a measure from FILE.json: a MeasureDefinition in proto3 JSON, as
    `mhin evaluation measures show --json` prints it under "measure" (national
    admins; defined_at and version are the server's and are ignored)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: not JSON: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("measure"), dict):
        document = document["measure"]  # the whole of `measures show --json`
    if not isinstance(document, dict):
        raise click.ClickException(f"{path}: expected a JSON object (a MeasureDefinition)")
    for server_set in ("defined_at", "definedAt", "version"):
        document.pop(server_set, None)
    measure = measure_definition_pb2.MeasureDefinition()
    try:
        json_format.ParseDict(document, measure)
    except json_format.ParseError as exc:
        raise click.ClickException(f"{path}: not a MeasureDefinition: {exc}") from None
    defined = _stub(address, token).DefineMeasure(
        evaluation_pb2.DefineMeasureRequest(measure=measure)).measure
    click.echo(json.dumps(message_dict(defined)) if as_json else _measure_line(defined))


@evaluation.command("sites")
@click.argument("project_id")
@service
def sites(project_id: str, address: str, token: str, as_json: bool) -> None:
    """List the sites of PROJECT_ID that observations may be recorded for."""
    response = _stub(address, token).GetProjectSites(
        evaluation_pb2.GetProjectSitesRequest(project_id=project_id))
    if as_json:
        click.echo(json.dumps(message_dict(response)))
        return
    for site in response.sites:
        arc = _name(arc_pb2.Arc, site.arc, "ARC_")
        click.echo(f"{site.site_id:<38} {arc:<26} {site.name}")


# ----------------------------------------------------------------- observations


@evaluation.group()
def observations() -> None:
    """Observations: a site's numerator (and denominator) of a measure for a period."""


def _outcome(result: evaluation_pb2.ObservationResult) -> str:
    return _name(evaluation_pb2.ObservationOutcome, result.outcome,
                 "OBSERVATION_OUTCOME_").lower()


@observations.command("submit")
@click.option("--measure", "measure_id", required=True, help="Measure id.")
@click.option("--site", "site_id", required=True, help="Site id (see `mhin evaluation sites`).")
@click.option("--period", required=True, help="2025-03 (monthly), 2025-Q1 (quarterly), 2025.")
@click.option("--stratum", default="", help="e.g. 'ethnicity=Black' or 'sex=F|age_band=5-11'.")
@click.option("--numerator", required=True, type=float)
@click.option("--denominator", type=float, help="Required unless the measure is a count.")
@service
def submit(measure_id: str, site_id: str, period: str, stratum: str, numerator: float,
           denominator: float | None, address: str, token: str, as_json: bool) -> None:
    """Record one observation (a resubmission replaces the earlier value)."""
    observation = evaluation_pb2.Observation(measure_id=measure_id, site_id=site_id,
                                             period=period, stratum=stratum, numerator=numerator)
    if denominator is not None:
        observation.denominator = denominator
    result = _stub(address, token).SubmitObservation(
        evaluation_pb2.SubmitObservationRequest(observation=observation)).result
    if as_json:
        click.echo(json.dumps(message_dict(result)))
    else:
        click.echo(f"{_outcome(result)} (version {result.version})")


@dataclass(frozen=True)
class _Row:
    number: int  # row 1 is the header
    observation: evaluation_pb2.Observation


def read_observations(path: Path) -> tuple[list[_Row], list[dict[str, Any]]]:
    """The file's observations, and the rows that are not observations at all."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise click.ClickException(f"{path}: missing column(s): {', '.join(missing)}")
        rows, errors = [], []
        for number, row in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in row.items() if k}
            try:
                rows.append(_Row(number, _observation(row)))
            except _RowError as exc:
                errors.append({"row": number, "field": exc.column, "message": str(exc)})
    return rows, errors


class _RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _observation(row: dict[str, str]) -> evaluation_pb2.Observation:
    observation = evaluation_pb2.Observation(
        measure_id=row["measure_id"], site_id=row["site_id"], period=row["period"],
        stratum=row["stratum"])
    for column in ("numerator", "denominator"):
        if row[column] == "" and column == "denominator":
            continue
        try:
            setattr(observation, column, _number(row[column]))
        except ValueError as exc:
            raise _RowError(column, str(exc)) from None
    return observation


def _batches(rows: Sequence[_Row], size: int) -> Iterator[Sequence[_Row]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _progress(length: int, label: str):
    return click.progressbar(length=length, label=label, file=click.get_text_stream("stderr"))


def _problems(stub: evaluation_pb2_grpc.EvaluationServiceStub, rows: Sequence[_Row],
              size: int) -> list[dict[str, Any]]:
    """Every problem the service finds in the rows, by row number and CSV column."""
    found = []
    with _progress(len(rows), "checking ") as bar:
        for batch in _batches(rows, size):
            response = stub.CheckObservations(evaluation_pb2.CheckObservationsRequest(
                observations=[row.observation for row in batch]))
            for problem in response.problems:
                # "observations.<index>.<column>" -> the CSV column ("row": the whole row)
                column = problem.field.split(".", 2)[2] if problem.field.count(".") >= 2 else "row"
                found.append({"row": batch[problem.index].number, "field": column,
                              "message": problem.message})
            bar.update(len(batch))
    return found


@observations.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=BATCH_SIZE,
              show_default=True, help="Observations per call.")
@service.without_json
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_observations(csv_file: Path, batch_size: int, address: str, token: str,
                        as_json: bool) -> None:
    """Import observations from CSV_FILE, all or nothing.

    Columns: measure_id, site_id, period, stratum, numerator, denominator (empty for
    a count; stratum empty for a measure without stratifiers). The whole file is
    checked first: if any row is bad, every bad row is reported with its row number
    and column, nothing is recorded, and the exit status is 1. Then it is sent in
    batches, each recorded all or nothing. Importing the same file again changes
    nothing (identical observations are left unchanged), and a changed row corrects
    the earlier value.
    """
    rows, report = read_observations(csv_file)
    stub = _stub(address, token)
    counts = {"recorded": 0, "corrected": 0, "unchanged": 0}
    if rows:
        report += _problems(stub, rows, batch_size)
    if not report:
        with _progress(len(rows), "importing") as bar:
            for batch in _batches(rows, batch_size):
                response = stub.SubmitObservations(evaluation_pb2.SubmitObservationsRequest(
                    observations=[row.observation for row in batch]))
                for result in response.results:
                    counts[_outcome(result)] += 1
                bar.update(len(batch))
    report.sort(key=lambda item: item["row"])
    if as_json:
        click.echo(json.dumps({**counts, "invalid": len(report), "errors": report}))
    else:
        click.echo(", ".join(f"{n} {name}" for name, n in counts.items()))
        for item in report:
            click.echo(f"row {item['row']}: {item['field']}: {item['message']}", err=True)
        if report:
            click.echo("nothing was recorded: fix the rows above and import again", err=True)
    if report:
        raise SystemExit(1)


# ----------------------------------------------------------------- aggregates


def _level(text: str) -> aggregate_events_pb2.Level.ValueType:
    return aggregate_events_pb2.Level.Value(f"LEVEL_{text.upper()}")


def _unit(level: str, unit: str) -> str:
    """ARCs by code, name or slug ('Greater Manchester' -> GREATER_MANCHESTER)."""
    if level != "arc" or not unit:
        return unit
    try:
        return Arc.parse(unit).name
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--unit") from None


def series_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.argument("measure_id"),
        click.option("--level", type=click.Choice(LEVELS), required=True),
        click.option("--unit", default="",
                     help="Site id, ARC (e.g. 'Greater Manchester'), project id; "
                          "none for national."),
    )):
        command = option(command)
    return command


def series_key(measure_id: str, level: str, unit: str, stratum: str) -> evaluation_pb2.SeriesKey:
    return evaluation_pb2.SeriesKey(measure_id=measure_id, level=_level(level),
                                    unit=_unit(level, unit), stratum=stratum)


Figure = Literal["numerator", "denominator", "value"]


def _figure(message: evaluation_pb2.Aggregate, name: Figure) -> str:
    if getattr(message, f"{name}_suppressed"):
        return "**" if _secondary(message, name) else "*"
    return f"{getattr(message, name):g}" if message.HasField(name) else "-"


def _secondary(message: evaluation_pb2.Aggregate, name: Figure) -> bool:
    """Withheld only by complementary suppression (the value: only for figures that are)."""
    if name != "value":
        return getattr(message, f"{name}_secondary")
    withheld = [figure for figure in ("numerator", "denominator")
                if getattr(message, f"{figure}_suppressed")]
    return bool(withheld) and all(getattr(message, f"{f}_secondary") for f in withheld)


def aggregate_line(aggregate: evaluation_pb2.Aggregate) -> str:
    """One aggregate: suppressed figures show as '*' (a small count, or built on one) or
    '**' (withheld so that a small count elsewhere cannot be derived), undefined ones as
    '-'."""
    stratum = aggregate.stratum or "all"
    figures = (f"{_figure(aggregate, 'numerator')} / {_figure(aggregate, 'denominator')}"
               if aggregate.measure_type != measure_pb2.MEASURE_TYPE_COUNT
               else _figure(aggregate, "numerator"))
    view = "in full" if aggregate.in_full else "disclosure-controlled"
    computed = aggregate.computed_at.ToDatetime().isoformat(timespec="seconds") + "Z"
    return (f"{aggregate.period:<8} {stratum:<30} {figures:>22}  "
            f"value {_figure(aggregate, 'value'):>10}  ({view}, computed {computed})")


@evaluation.group()
def aggregates() -> None:
    """Aggregates: sums up the hierarchy site -> ARC -> project -> national."""


@aggregates.command("get")
@series_options
@click.option("--period", required=True)
@click.option("--stratum", default="", help="Default: all strata combined.")
@service
def get_aggregate(measure_id: str, level: str, unit: str, period: str, stratum: str,
                  address: str, token: str, as_json: bool) -> None:
    """Show MEASURE_ID at one level and unit for a period ('*' = suppressed, '**' =
    suppressed so that a small count elsewhere cannot be derived)."""
    request = evaluation_pb2.GetAggregateRequest(
        series=series_key(measure_id, level, unit, stratum), period=period)
    aggregate = _stub(address, token).GetAggregate(request).aggregate
    click.echo(json.dumps(message_dict(aggregate)) if as_json else aggregate_line(aggregate))


@evaluation.command("series")
@series_options
@click.option("--stratum", default="", help="Default: all strata combined.")
@service
def series(measure_id: str, level: str, unit: str, stratum: str, address: str, token: str,
           as_json: bool) -> None:
    """Every period of MEASURE_ID at one level and unit, oldest first."""
    request = evaluation_pb2.GetSeriesRequest(series=series_key(measure_id, level, unit, stratum))
    points = _stub(address, token).GetSeries(request).points
    for point in points:
        click.echo(json.dumps(message_dict(point)) if as_json else aggregate_line(point))


@evaluation.command("breakdown")
@series_options
@click.option("--period", required=True)
@click.option("--by", "stratifier", required=True,
              type=click.Choice(["sex", "age_band", "ethnicity", "deprivation_decile"]))
@service
def breakdown(measure_id: str, level: str, unit: str, period: str, stratifier: str,
              address: str, token: str, as_json: bool) -> None:
    """MEASURE_ID for one period by the groups of a stratifier, and the total."""
    request = evaluation_pb2.GetBreakdownRequest(
        measure_id=measure_id, level=_level(level), unit=_unit(level, unit), period=period,
        stratifier=measure_definition_pb2.Stratifier.Value(f"STRATIFIER_{stratifier.upper()}"))
    response = _stub(address, token).GetBreakdown(request)
    if as_json:
        click.echo(json.dumps(message_dict(response)))
        return
    for group in response.groups:
        click.echo(aggregate_line(group))
    if response.HasField("total"):
        click.echo(aggregate_line(response.total))


@evaluation.command("spc")
@series_options
@click.option("--stratum", default="", help="Default: all strata combined.")
@click.option("--rebase", "rebase_periods", multiple=True,
              help="Recalculate the limits from this period on (repeatable). Default for a "
                   "site: at its go-live period once it has one.")
@click.option("--no-rebase", is_flag=True, help="One set of limits, even for a live site.")
@click.option("--fix-after", "fix_after_n_points", type=int, default=0,
              help="Limits from each segment's first N points only (a fixed baseline).")
@click.option("--screen-outliers", is_flag=True,
              help="Leave out moving ranges above 3.267 x their mean (NHSRplotthedots' "
                   "default; the MDC Excel tool does not screen).")
@service
def spc(measure_id: str, level: str, unit: str, stratum: str, rebase_periods: tuple[str, ...],
        no_rebase: bool, fix_after_n_points: int, screen_outliers: bool, address: str,
        token: str, as_json: bool) -> None:
    """The XmR chart of a series with Making Data Count rules, and its verdict."""
    request = evaluation_pb2.GetSpcRequest(
        series=series_key(measure_id, level, unit, stratum), rebase_periods=rebase_periods,
        no_rebase=no_rebase, fix_after_n_points=fix_after_n_points,
        screen_outliers=screen_outliers)
    chart = _stub(address, token).GetSpc(request)
    if as_json:
        click.echo(json.dumps(message_dict(chart)))
        return
    for point in chart.points:
        value = (("**" if point.secondary_suppressed else "*") if point.suppressed
                 else f"{point.value:g}" if point.HasField("value") else "-")
        rules = ", ".join(_name(aggregate_events_pb2.SpcRule, r, "SPC_RULE_").lower()
                          for r in point.rules)
        click.echo(f"{point.period:<8} {value:>12}  {rules}")
    for segment in chart.segments if len(chart.segments) > 1 else ():
        if segment.HasField("upper_limit"):
            click.echo(f"from {segment.start_period}: mean {segment.mean:g}, limits "
                       f"{segment.lower_limit:g} to {segment.upper_limit:g}")
    if chart.HasField("upper_limit"):
        reliable = "" if chart.limits_reliable else " (trial limits: fewer than 15 points)"
        click.echo(f"mean {chart.mean:g}, limits {chart.lower_limit:g} to "
                   f"{chart.upper_limit:g}{reliable}")
    click.echo("moving ranges " + ("screened (above 3.267 x their mean left out)"
                                   if chart.screened else "unscreened (as the MDC Excel tool)"))
    verdict = _name(aggregate_events_pb2.SpcVariation, chart.verdict, "SPC_VARIATION_")
    click.echo(f"verdict: {verdict.lower().replace('_', ' ')}")
