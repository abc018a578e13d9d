"""The platform's processes, declared once: what `make run` starts, what `mhin
status` looks at, and what the deployment files must agree with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProcessSpec:
    name: str            # the service name (MHIN_SERVICE_NAME)
    command: str         # console script installed in the venv
    grpc_port: int | None  # None: no gRPC server (stream processors)
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)


    @property
    def address_variable(self) -> str:
        """Where clients (the CLI) find this service: MHIN_<NAME>_ADDRESS."""
        return "MHIN_" + self.name.upper().replace("-", "_") + "_ADDRESS"


PLATFORM = (
    ProcessSpec("needs-intake", "mhin-needs", 50051, 9451),
    ProcessSpec("solution-catalogue", "mhin-catalogue", 50052, 9452),
    ProcessSpec("project-tracking", "mhin-projects", 50053, 9453),
    ProcessSpec("governance", "mhin-governance", 50054, 9454),
    ProcessSpec("evaluation", "mhin-evaluation", 50055, 9455),
    ProcessSpec("stream-processors", "mhin-aggregator", None, 9456),
)
