"""``mhin solutions`` and ``mhin prioritise``: the national solution catalogue, its
links to needs, and MCDA prioritisation rounds loaded from a published table
(solution-catalogue)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from mhin.catalogue.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    prioritisation_pb2,
    prioritisation_pb2_grpc,
    solution_pb2,
)
from mhin.common.v1 import priority_area_pb2
from mhin_cli.choices import enum_number, enum_word, enum_words, reference_number
from mhin_cli.client import ServiceCommand, all_pages, connect, message_dict
from mhin_platform.reference import PriorityArea

AREA = priority_area_pb2.PriorityArea
READINESS = enum_words(solution_pb2.Readiness)
EVIDENCE_LEVELS = enum_words(solution_pb2.EvidenceLevel)
STATUSES = enum_words(solution_pb2.SolutionStatus)
FULL_WEIGHT = 100

service = ServiceCommand("solution-catalogue")


def _catalogue(address: str, token: str) -> catalogue_pb2_grpc.SolutionCatalogueServiceStub:
    return catalogue_pb2_grpc.SolutionCatalogueServiceStub(connect(address, token))


def _area(text: str | None, option: str = "--area") -> priority_area_pb2.PriorityArea.ValueType:
    return reference_number(PriorityArea.parse, AREA, option, text)


def _study(text: str) -> solution_pb2.Study:
    citation, _, year = text.rpartition(":")
    if not citation or not year.strip().isdigit():
        raise click.BadParameter(f"{text!r}: use CITATION:YEAR", param_hint="--study")
    return solution_pb2.Study(citation=citation.strip(), year=int(year))


def _print_solution(solution: solution_pb2.Solution, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(message_dict(solution)))
        return
    status = enum_word(solution_pb2.SolutionStatus, solution.status)
    readiness = enum_word(solution_pb2.Readiness, solution.readiness)
    areas = ", ".join(PriorityArea[priority_area_pb2.PriorityArea.Name(a).removeprefix(
        "PRIORITY_AREA_")].value for a in solution.priority_areas)
    click.echo(f"{solution.id}  {status:<7} {readiness:<16} {solution.name}  [{areas}]")


def _print_need(need: catalogue_pb2.NeedSummary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(message_dict(need)))
        return
    area = PriorityArea[priority_area_pb2.PriorityArea.Name(need.priority_area).removeprefix(
        "PRIORITY_AREA_")].value
    click.echo(f"{need.id}  {area:<36} {need.title}")


# ------------------------------------------------------------------ mhin solutions


@click.group()
def solutions() -> None:
    """The national catalogue of evidence-based solutions (solution-catalogue)."""


def _draft_options(required: bool):
    """The options describing a solution: all required to add one, any to revise one."""
    def decorate(command):
        for option in reversed((
            click.option("--name", required=required),
            click.option("--description", required=required),
            click.option("--area", "areas", multiple=True, required=required,
                         help="Priority area it addresses (repeatable)."),
            click.option("--evidence-level", type=click.Choice(EVIDENCE_LEVELS),
                         required=required),
            click.option("--nice", multiple=True,
                         help="NICE guidance reference, e.g. NG225 (repeatable)."),
            click.option("--study", "studies", multiple=True,
                         help="A study as CITATION:YEAR (repeatable)."),
            click.option("--evidence-summary"),
            click.option("--readiness", type=click.Choice(READINESS), required=required),
            click.option("--setting", help="e.g. 'primary care', 'schools'."),
            click.option("--population", help="Target population."),
        )):
            command = option(command)
        return command
    return decorate


def _draft(current: catalogue_pb2.SolutionDraft, **given: Any) -> catalogue_pb2.SolutionDraft:
    """``current`` with the options that were given replacing its fields."""
    draft = catalogue_pb2.SolutionDraft()
    draft.CopyFrom(current)
    for name, attribute in (("name", "name"), ("description", "description"),
                            ("setting", "setting"), ("population", "target_population")):
        if given[name] is not None:
            setattr(draft, attribute, given[name])
    if given["areas"]:
        draft.ClearField("priority_areas")
        draft.priority_areas.extend(_area(text) for text in given["areas"])
    if given["readiness"]:
        draft.readiness = enum_number(solution_pb2.Readiness, given["readiness"])
    if given["evidence_level"]:
        draft.evidence.level = enum_number(solution_pb2.EvidenceLevel, given["evidence_level"])
    if given["nice"]:
        draft.evidence.ClearField("nice_guidance")
        draft.evidence.nice_guidance.extend(given["nice"])
    if given["studies"]:
        draft.evidence.ClearField("studies")
        draft.evidence.studies.extend(_study(text) for text in given["studies"])
    if given["evidence_summary"] is not None:
        draft.evidence.summary = given["evidence_summary"]
    return draft


@solutions.command()
@_draft_options(required=True)
@service
def add(address: str, token: str, as_json: bool, **given: Any) -> None:
    """Catalogue a solution (national_admin)."""
    request = catalogue_pb2.CatalogueSolutionRequest(
        solution=_draft(catalogue_pb2.SolutionDraft(), **given))
    _print_solution(_catalogue(address, token).CatalogueSolution(request).solution, as_json)


@solutions.command()
@click.argument("solution_id")
@_draft_options(required=False)
@service
def revise(solution_id: str, address: str, token: str, as_json: bool, **given: Any) -> None:
    """Change what describes SOLUTION_ID: the options given replace its fields, the
    rest stay. Fails, changing nothing, if someone revised it meanwhile."""
    stub = _catalogue(address, token)
    current = stub.GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution_id)).solution
    described = catalogue_pb2.SolutionDraft(
        name=current.name, description=current.description,
        priority_areas=current.priority_areas, evidence=current.evidence,
        readiness=current.readiness, setting=current.setting,
        target_population=current.target_population)
    revised = stub.ReviseSolution(catalogue_pb2.ReviseSolutionRequest(
        solution_id=solution_id, solution=_draft(described, **given),
        expected_version=current.version)).solution
    _print_solution(revised, as_json)


@solutions.command()
@click.argument("solution_id")
@click.option("--reason", required=True)
@service
def retire(solution_id: str, reason: str, address: str, token: str, as_json: bool) -> None:
    """Retire SOLUTION_ID (it stays on record)."""
    solution = _catalogue(address, token).RetireSolution(catalogue_pb2.RetireSolutionRequest(
        solution_id=solution_id, reason=reason)).solution
    _print_solution(solution, as_json)


@solutions.command()
@click.argument("solution_id")
@service.without_json
def show(solution_id: str, address: str, token: str) -> None:
    """Show one solution in full (JSON)."""
    solution = _catalogue(address, token).GetSolution(catalogue_pb2.GetSolutionRequest(
        solution_id=solution_id)).solution
    click.echo(json.dumps(message_dict(solution), indent=2))


@solutions.command("list")
@click.option("--text", default="", help="Words in the name or description (any case).")
@click.option("--area", help="Priority area.")
@click.option("--readiness", type=click.Choice(READINESS))
@click.option("--evidence-level", type=click.Choice(EVIDENCE_LEVELS))
@click.option("--status", type=click.Choice(STATUSES))
@service
def list_solutions(text: str, area: str | None, readiness: str | None,
                   evidence_level: str | None, status: str | None, address: str, token: str,
                   as_json: bool) -> None:
    """List or search solutions (all pages), by name."""
    request = catalogue_pb2.ListSolutionsRequest(
        text=text, priority_area=_area(area),
        readiness=enum_number(solution_pb2.Readiness, readiness),
        evidence_level=enum_number(solution_pb2.EvidenceLevel, evidence_level),
        status=enum_number(solution_pb2.SolutionStatus, status))
    for solution in all_pages(_catalogue(address, token).ListSolutions, request, "solutions"):
        _print_solution(solution, as_json)


@solutions.command()
@click.argument("solution_id")
@click.argument("need_id")
@service
def link(solution_id: str, need_id: str, address: str, token: str, as_json: bool) -> None:
    """Record that SOLUTION_ID addresses NEED_ID (a need the catalogue has seen)."""
    solution = _catalogue(address, token).LinkSolutionToNeed(
        catalogue_pb2.LinkSolutionToNeedRequest(solution_id=solution_id,
                                                need_id=need_id)).solution
    _print_solution(solution, as_json)


@solutions.command()
@click.argument("solution_id")
@click.argument("need_id")
@service
def unlink(solution_id: str, need_id: str, address: str, token: str, as_json: bool) -> None:
    """Remove the link between SOLUTION_ID and NEED_ID."""
    solution = _catalogue(address, token).UnlinkSolutionFromNeed(
        catalogue_pb2.UnlinkSolutionFromNeedRequest(solution_id=solution_id,
                                                    need_id=need_id)).solution
    _print_solution(solution, as_json)


@solutions.command()
@click.argument("need_id")
@service
def candidates(need_id: str, address: str, token: str, as_json: bool) -> None:
    """The solutions linked to NEED_ID, and the other solutions in its area."""
    found = _catalogue(address, token).ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id=need_id))
    if as_json:
        click.echo(json.dumps(message_dict(found)))
        return
    _print_need(found.need, as_json=False)
    for heading, listed in (("linked", found.linked_solutions),
                            ("candidates", found.candidate_solutions)):
        click.echo(f"{heading}: {len(listed) or 'none'}")
        for solution in listed:
            _print_solution(solution, as_json=False)


@solutions.command("unmet-needs")
@click.option("--area", help="Priority area ('uncategorised' for needs not yet placed).")
@service
def unmet_needs(area: str | None, address: str, token: str, as_json: bool) -> None:
    """The needs no active solution addresses yet (all pages), oldest first."""
    request = catalogue_pb2.ListUnmetNeedsRequest(priority_area=_area(area))
    for need in all_pages(_catalogue(address, token).ListUnmetNeeds, request, "needs"):
        _print_need(need, as_json)


# ------------------------------------------------------------------ mhin prioritise


class TableError(ValueError):
    """A published MCDA table that does not hold a round; says where."""

    def __init__(self, row: int | None, column: str | None, message: str) -> None:
        where = ", ".join(([f"row {row}"] if row else []) +
                          ([f"column {column!r}"] if column else []))
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class RoundTable:
    """A table with a row per criterion, a column per option, and the weights."""

    options: list[str]
    criteria: list[tuple[str, Decimal]] = field(default_factory=list)
    scores: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def draft(self, title: str, source: str) -> prioritisation_pb2.RoundDraft:
        return prioritisation_pb2.RoundDraft(
            title=title, source=source,
            criteria=[prioritisation_pb2.Criterion(name=name, weight=float(weight))
                      for name, weight in self.criteria],
            options=[prioritisation_pb2.RoundOption(name=name) for name in self.options],
            scores=[prioritisation_pb2.Score(option=option, criterion=criterion,
                                             value=float(value))
                    for (option, criterion), value in self.scores.items()])


def _number(text: str, row: int, column: str, low: int, high: int) -> Decimal:
    """The cell as the service will read it (a double's shortest decimal)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise TableError(row, column, f"{text!r} is not a number") from None
    if not value.is_finite() or not low <= value <= high:
        raise TableError(row, column, f"{text} is not between {low} and {high}")
    return Decimal(repr(float(value)))


def _header(cells: list[str]) -> list[str]:
    if not cells or cells[0].casefold() != "criterion":
        raise TableError(1, cells[0] if cells else None, "the first column must be 'criterion'")
    if cells[-1].casefold() != "weight":
        raise TableError(1, cells[-1], "the last column must be 'weight'")
    options = cells[1:-1]
    if len(options) < 2:
        raise TableError(1, None, "name at least two options, one column each, between "
                                  "'criterion' and 'weight'")
    seen: set[str] = set()
    for index, option in enumerate(options, start=2):
        if not option:
            raise TableError(1, f"column {index}", "an option column needs a name")
        if option.casefold() in seen:
            raise TableError(1, option, "this option has two columns")
        seen.add(option.casefold())
    return options


def read_round_table(text: str) -> RoundTable:
    """Check a CSV table (first column ``criterion``, a column per option, last column
    ``weight``) cell by cell; TableError names the first bad row and column."""
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(row)]
    if not numbered:
        raise TableError(None, None, "the file is empty")
    (_, header), body = numbered[0], numbered[1:]
    table = RoundTable(options=_header(header))
    for number, row in body:
        if len(row) != len(header):
            raise TableError(number, None, f"has {len(row)} cells, the header has {len(header)}")
        criterion = row[0]
        if not criterion:
            raise TableError(number, "criterion", "name the criterion")
        if criterion.casefold() in {name.casefold() for name, _ in table.criteria}:
            raise TableError(number, "criterion", f"{criterion!r} appears twice")
        weight = _number(row[-1], number, "weight", 0, FULL_WEIGHT)
        if weight == 0:
            raise TableError(number, "weight", "a criterion needs a weight above 0")
        table.criteria.append((criterion, weight))
        for option, cell in zip(table.options, row[1:-1], strict=True):
            table.scores[option, criterion] = _number(cell, number, option, 0, 100)
    if len(table.criteria) < 2:
        raise TableError(None, "criterion", "the table needs at least two criteria rows")
    total = sum(weight for _, weight in table.criteria)
    if total != FULL_WEIGHT:
        raise TableError(None, "weight", f"weights sum to {total}, not {FULL_WEIGHT}")
    return table


def _results(round_: prioritisation_pb2.PrioritisationRound) -> list[dict[str, Any]]:
    ranges: dict[str, dict[str, dict[str, float]]] = {}
    for item in round_.results.sensitivity:
        ranges.setdefault(item.option, {})[item.criterion] = {
            "weight": item.weight, "lower": item.lower_weight, "upper": item.upper_weight}
    return [{"option": r.option, "total": r.total, "rank": r.rank,
             "solution_id": r.solution_id or None, "round_id": round_.id,
             "weight_ranges": ranges.get(r.option, {})}
            for r in round_.results.ranking]


def _print_round(round_: prioritisation_pb2.PrioritisationRound) -> None:
    click.echo(f"{round_.title} (round {round_.id})")
    click.echo(f"{'rank':>4}  {'total':>6}  option")
    for result in round_.results.ranking:
        solution = f"  [solution {result.solution_id}]" if result.solution_id else ""
        click.echo(f"{result.rank:>4}  {result.total:>6.2f}  {result.option}{solution}")
    leaders = list(dict.fromkeys(item.option for item in round_.results.sensitivity))
    width = max(len(c.name) for c in round_.criteria)
    for leader in leaders:
        click.echo(f"\nweights within which {leader} stays top "
                   "(the others rescaled to keep the sum at 100):")
        for item in round_.results.sensitivity:
            if item.option == leader:
                click.echo(f"  {item.criterion:<{width}}  {item.weight:>5.1f}  from "
                           f"{item.lower_weight:.1f} to {item.upper_weight:.1f}")


@click.command()
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", help="Title of the round (default: the file name).")
@click.option("--source", help="Where the scores come from (default: the file name).")
@service
def prioritise(csv_file: Path, title: str | None, source: str | None, address: str, token: str,
               as_json: bool) -> None:
    """Record an MCDA prioritisation round from CSV_FILE and show its ranking.

    The CSV is shaped like a published MCDA table: first column `criterion`, one
    column per option (scores 0 to 100), last column `weight` (weights sum to 100),
    a row per criterion. An option named like a catalogued solution is that solution.
    A malformed table is reported by row and column, and nothing is stored; loading
    the same file again shows the round already recorded. With --json, prints a list
    of {"option", "total", "rank", "solution_id", "round_id", "weight_ranges"}, where
    weight_ranges (top options only) gives per criterion the range of its weight
    within which the option stays top.
    """
    content = csv_file.read_text(encoding="utf-8-sig")
    try:
        table = read_round_table(content)
    except TableError as exc:
        raise click.ClickException(f"{csv_file}: {exc}; nothing was stored") from None
    title = title or csv_file.stem
    key = hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    stub = prioritisation_pb2_grpc.PrioritisationServiceStub(connect(address, token))
    round_ = stub.RecordRound(prioritisation_pb2.RecordRoundRequest(
        round=table.draft(title, source or csv_file.name), idempotency_key=key)).round
    if as_json:
        click.echo(json.dumps(_results(round_), indent=2))
    else:
        _print_round(round_)
