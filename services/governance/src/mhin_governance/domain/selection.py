"""The selection saga's step here: a proposal put on the Executive's agenda."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from mhin_governance.domain.common import SELECTION_PROPOSAL, ExternalId
from mhin_governance.domain.meetings import AgendaItemDraft, AggregateRef
from mhin_platform.models import Model, Text
from mhin_platform.reference import Arc


class SelectionProposal(Model):
    proposal_id: ExternalId
    call_id: ExternalId
    solution_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    proposed_arcs: Annotated[list[Arc], Field(min_length=1, max_length=len(Arc))]
    rationale: Text = ""

    @property
    def ref(self) -> AggregateRef:
        return AggregateRef(aggregate_type=SELECTION_PROPOSAL, aggregate_id=self.proposal_id)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def proposal_agenda_item(proposal: SelectionProposal) -> AgendaItemDraft:
    arcs = _listed([f"ARC {arc.value}" for arc in proposal.proposed_arcs])
    title = f"Selection proposal: {arcs}"
    if len(title) > 200:
        title = f"Selection proposal: {len(proposal.proposed_arcs)} ARCs"
    papers = [f"ARCs put forward: {arcs}.", f"Selection call: {proposal.call_id}."]
    if proposal.solution_id:
        papers.append(f"Solution: {proposal.solution_id}.")
    if proposal.rationale:
        papers.append(f"\n{proposal.rationale}")
    return AgendaItemDraft(title=title, description="\n".join(papers), subject=proposal.ref)
