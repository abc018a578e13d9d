"""evaluation process: `mhin-evaluation` (configuration from MHIN_* variables)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

from pydantic import Field

from mhin_evaluation import SERVICE_NAME, api, consumers
from mhin_evaluation.app import EvaluationApp
from mhin_evaluation.impact import ImpactApp, ImpactWorker
from mhin_measures.disclosure import DEFAULT_THRESHOLD
from mhin_platform.db import Database
from mhin_platform.runtime import ServiceDefinition, ServiceRuntime, run_service
from mhin_platform.settings import ServiceSettings


class EvaluationSettings(ServiceSettings):
    service_name: str = SERVICE_NAME
    grpc_port: int = Field(default=50055, ge=0, le=65535)
    database_url: str = "sqlite:///evaluation.db"
    # Counts from 1 to this - 1 are suppressed for callers outside the owning ARC; keep
    # it equal to the stream processors' threshold (MHIN_DISCLOSURE_THRESHOLD for both).
    disclosure_threshold: int = Field(default=DEFAULT_THRESHOLD, ge=1)
    # Changes to one series within this many seconds make one recomputed impact
    # estimate (ImpactEstimated): a busy series is estimated at most once per delay.
    impact_debounce_seconds: float = Field(default=2.0, ge=0, le=3600)
    # False: no live recomputation (GetImpact still answers; marks wait in the table).
    impact_live: bool = True


def register(server, runtime: ServiceRuntime) -> list[str]:
    settings = _settings(runtime)
    app = EvaluationApp(runtime.database, settings.disclosure_threshold,
                        instance_arc=settings.instance_arc)
    impact = ImpactApp(runtime.database, settings.disclosure_threshold)
    return api.register(server, app, impact)


IMPACT_IDLE_SHARE = 3.0
"""The live recomputation rests 3 times as long as each estimate took: at most a
quarter of a core, so aggregates and queries stay fresh while it runs."""


def impact_worker(runtime: ServiceRuntime) -> ImpactWorker:
    settings = _settings(runtime)
    return ImpactWorker(
        ImpactApp(runtime.database, settings.disclosure_threshold, idle_share=IMPACT_IDLE_SHARE),
        timedelta(seconds=settings.impact_debounce_seconds), enabled=settings.impact_live)


def seed_measures(database: Database, settings: ServiceSettings) -> None:
    """The shipped measures, on the national instance only (an ARC's learns them from
    the national instance's topic)."""
    evaluation = cast(EvaluationSettings, settings)
    EvaluationApp(database, evaluation.disclosure_threshold,
                  instance_arc=evaluation.instance_arc).load_reference_measures()


def _settings(runtime: ServiceRuntime) -> EvaluationSettings:
    return cast(EvaluationSettings, runtime.settings)


DEFINITION = ServiceDefinition(
    settings_class=EvaluationSettings,
    migrations=Path(__file__).parent / "migrations" / "versions",
    register=register,
    consumers=consumers.CONSUMERS,
    seed=seed_measures,
    workers=[impact_worker],
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
