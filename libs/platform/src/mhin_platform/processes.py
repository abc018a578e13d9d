"""The platform's processes, declared once: what `make run` starts, what `mhin
status` looks at, and what the deployment files must agree with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mhin_platform.reference import Arc


@dataclass(frozen=True)
class ProcessSpec:
    name: str            # the service name (MHIN_SERVICE_NAME)
    command: str         # console script installed in the venv
    # None: no gRPC server, and so no database or token secret (stream processors)
    grpc_port: int | None
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)
    # An HTTP server people open in a browser (the web dashboard), if any.
    http_port: int | None = None

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
    ProcessSpec("web", "mhin-web", None, 9457, http_port=8080),
)

# Services that hold ARC data, of which each ARC can run its own instance.
ARC_INSTANCE_SERVICES = ("needs-intake", "evaluation")
ARC_PORT_STRIDE = 1000  # the n-th ARC's instance of a service: its port + n x stride


def _grpc_port(spec: ProcessSpec) -> int:
    if spec.grpc_port is None:
        raise ValueError(f"{spec.name} serves no gRPC, so it has no ARC instances")
    return spec.grpc_port


def arc_instances(arcs: list[Arc]) -> tuple[ProcessSpec, ...]:
    """Each ARC's own instances of the ARC-data services, beside the national ones:
    own name (so own consumer groups and database), own ports, MHIN_INSTANCE_ARC set."""
    national = {spec.name: spec for spec in PLATFORM}
    return tuple(
        ProcessSpec(
            name=f"{service}-{arc.name.lower().replace('_', '-')}",
            command=national[service].command,
            grpc_port=_grpc_port(national[service]) + number * ARC_PORT_STRIDE,
            metrics_port=national[service].metrics_port + number * ARC_PORT_STRIDE,
            env={"MHIN_INSTANCE_ARC": arc.name},
        )
        for number, arc in enumerate(arcs, start=1)
        for service in ARC_INSTANCE_SERVICES
    )


def parse_arcs(text: str) -> list[Arc]:
    """ARCs named in a comma-separated list (codes, names or slugs, see ``Arc.parse``)."""
    return [Arc.parse(name.strip()) for name in text.split(",") if name.strip()]


def arc_layout(arcs: list[Arc]) -> tuple[ProcessSpec, ...]:
    """The platform plus these ARCs' own instances. Each ARC's data then has one writer:
    the national instances of the ARC-data services refuse it
    (MHIN_ARCS_WITH_OWN_INSTANCE), its own instances take it."""
    if not arcs:
        return PLATFORM
    handed_over = {"MHIN_ARCS_WITH_OWN_INSTANCE": ",".join(arc.name for arc in arcs)}
    national = tuple(
        replace(spec, env={**spec.env, **handed_over}) if spec.name in ARC_INSTANCE_SERVICES
        else spec
        for spec in PLATFORM
    )
    return national + arc_instances(arcs)
