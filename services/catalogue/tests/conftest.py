"""What the catalogue's integration tests share: the real service on a real port
(and real needs-intake, whose events the catalogue follows), callers, builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import grpc
import pytest

from mhin.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc, solution_pb2
from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin_catalogue.main import DEFINITION
from mhin_devkit.harness import caller, running_service
from mhin_devkit.harness import eventually as harness_eventually
from mhin_needs.main import DEFINITION as NEEDS_DEFINITION
from mhin_platform.runtime import ServiceRuntime

CYP = priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE
UNCATEGORISED = priority_area_pb2.PRIORITY_AREA_UNCATEGORISED


@pytest.fixture
def start_catalogue(tmp_path, kafka_bootstrap, declared_topics_created
                    ) -> Iterator[Callable[[], ServiceRuntime]]:
    """Factory: start the catalogue on this test's database. Each test's catalogue
    has its own consumer group, so it reads need events as a fresh deployment does;
    starting it again (after ``runtime.stop()``) resumes where it stopped."""
    group = f"solution-catalogue-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        yield lambda: stack.enter_context(running_service(
            DEFINITION, database_url=f"sqlite:///{tmp_path}/catalogue.db",
            kafka_bootstrap=kafka_bootstrap, service_name=group))


@pytest.fixture
def catalogue(start_catalogue) -> Iterator[grpc.Channel]:
    runtime = start_catalogue()
    with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def shared_catalogue(tmp_path_factory, kafka_bootstrap, declared_topics_created
                     ) -> Iterator[grpc.Channel]:
    """One catalogue for the tests of a module that each look only at what they did
    themselves (bad input, refusals): fewer starts, a faster suite."""
    folder = tmp_path_factory.mktemp("catalogue")
    with running_service(DEFINITION, database_url=f"sqlite:///{folder}/catalogue.db",
                         kafka_bootstrap=kafka_bootstrap,
                         service_name=f"solution-catalogue-{uuid.uuid4().hex[:8]}") as runtime:
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            yield channel


@pytest.fixture
def admin(catalogue):
    return caller(catalogue, catalogue_pb2_grpc.SolutionCatalogueServiceStub, "national_admin")


@pytest.fixture(scope="module")
def needs_intake(tmp_path_factory, kafka_bootstrap, declared_topics_created):
    """The real needs-intake service, whose events the catalogue follows."""
    folder = tmp_path_factory.mktemp("needs-intake")
    with running_service(NEEDS_DEFINITION, database_url=f"sqlite:///{folder}/needs.db",
                         kafka_bootstrap=kafka_bootstrap) as runtime:
        with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
            yield caller(channel, needs_pb2_grpc.NeedsServiceStub, "national_admin")


@pytest.fixture
def submit_need(needs_intake) -> Callable[..., needs_pb2.Need]:
    def submit(title: str, area: int = UNCATEGORISED) -> needs_pb2.Need:
        draft = needs_pb2.NeedDraft(
            submitter=needs_pb2.Organisation(
                name="Pennine Care NHS FT", type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST),
            arc=arc_pb2.ARC_GREATER_MANCHESTER, title=title,
            description=f"{title}: raised in the scoping exercise.", priority_area=area,
            sources=[needs_pb2.NeedSource(scoping_exercise=needs_pb2.ScopingExerciseResponse())])
        return needs_intake.SubmitNeed(needs_pb2.SubmitNeedRequest(need=draft)).need
    return submit


def solution_draft(**changes: Any) -> catalogue_pb2.SolutionDraft:
    fields: dict[str, Any] = {
        "name": "Guided parent-delivered CBT",
        "description": "Guided parent-delivered cognitive behavioural therapy.",
        "priority_areas": [CYP],
        "evidence": solution_pb2.Evidence(
            nice_guidance=["CG159"], level=solution_pb2.EVIDENCE_LEVEL_RANDOMISED_TRIAL,
            studies=[solution_pb2.Study(citation="Creswell et al. 2017", year=2017)]),
        "readiness": solution_pb2.READINESS_READY,
        "setting": "CAMHS and schools",
        "target_population": "children aged 5 to 12 with anxiety",
    }
    fields.update(changes)
    return catalogue_pb2.SolutionDraft(**fields)


@pytest.fixture
def draft() -> Callable[..., catalogue_pb2.SolutionDraft]:
    return solution_draft


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """``eventually(check, what)``: poll until ``check()`` is truthy (the catalogue
    follows need events asynchronously) and return its value."""
    def wait(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        return harness_eventually(check, what, timeout)
    return wait
