"""The ``mhin`` entry point: a group that gathers the subcommand groups of this package."""

from __future__ import annotations

import click

from mhin_cli.catalogue import prioritise, solutions
from mhin_cli.evaluation import evaluation
from mhin_cli.export import export
from mhin_cli.governance import governance
from mhin_cli.impact import impact, impact_pooled
from mhin_cli.needs import needs
from mhin_cli.projects import calls, projects
from mhin_cli.status import status
from mhin_cli.tokens import token


@click.group()
def cli() -> None:
    """MHIN platform command line."""


for group in (needs, solutions, prioritise, calls, projects, governance, evaluation, export,
              status, token):
    cli.add_command(group)
for command in (impact, impact_pooled):  # their own module: impact estimation
    evaluation.add_command(command)
