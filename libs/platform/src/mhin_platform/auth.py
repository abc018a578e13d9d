"""Who calls (a subject with a role and an ARC) and the write rules built on that.

The gRPC auth interceptor verifies the caller's bearer token (see
:mod:`mhin_platform.tokens`) on every call and binds the caller to ``principal_var``;
servicer code reads it with :func:`current_principal` and guards writes with
:func:`require_write` (an ARC instance writes only its own ARC's data).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from mhin_platform.errors import PermissionDenied, Unauthenticated
from mhin_platform.reference import Arc


class Role(StrEnum):
    NATIONAL_ADMIN = "national_admin"
    ARC_MEMBER = "arc_member"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a subject (person or system), their role and, if any, their ARC."""

    subject: str
    role: Role
    arc: Arc | None = None

    def __post_init__(self) -> None:
        if not self.subject:
            raise ValueError("subject must not be empty")
        if self.role is Role.ARC_MEMBER and self.arc is None:
            raise ValueError("an arc_member principal needs an ARC")


principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)
# Set when this process is one ARC's own instance (MHIN_INSTANCE_ARC): it then accepts
# only that ARC's data, whoever calls.
instance_arc_var: ContextVar[Arc | None] = ContextVar("instance_arc", default=None)
# Set on a national instance (MHIN_ARCS_WITH_OWN_INSTANCE): the ARCs whose own
# instances take their data, so that each ARC's data has one writer.
arcs_with_own_instance_var: ContextVar[frozenset[Arc]] = ContextVar(
    "arcs_with_own_instance", default=frozenset()
)


def current_principal() -> Principal:
    """The authenticated caller of the gRPC call being served."""
    principal = principal_var.get()
    if principal is None:
        raise Unauthenticated("no authenticated caller for this call")
    return principal


def can_write_arc(principal: Principal, arc: Arc) -> bool:
    """National admins write any ARC's data, ARC members only their own, viewers none."""
    match principal.role:
        case Role.NATIONAL_ADMIN:
            return True
        case Role.ARC_MEMBER:
            return principal.arc == arc
        case Role.VIEWER:
            return False


def require_write(principal: Principal, arc: Arc) -> None:
    """Raise PermissionDenied, naming the ARC, unless ``principal`` may write its data
    and this process is not another ARC's instance nor a national instance of an ARC
    that runs its own."""
    instance_arc = instance_arc_var.get()
    if instance_arc is not None and arc is not instance_arc:
        raise PermissionDenied(
            f"this is the {instance_arc.name} instance: it accepts only {instance_arc.name} "
            f"data, not {arc.name}"
        )
    if arc in arcs_with_own_instance_var.get():
        raise PermissionDenied(
            f"{arc.name} runs its own instance, which takes its data: send {arc.name} data "
            "there, not to the national instance"
        )
    if not can_write_arc(principal, arc):
        raise PermissionDenied(
            f"{principal.role.value} {principal.subject!r} may not write data of ARC {arc.name}"
        )


def require_national(principal: Principal, action: str) -> None:
    """Raise PermissionDenied unless ``principal`` is the national team: for records
    that belong to the network, not to one ARC (the catalogue, governance, ...)."""
    if principal.role is not Role.NATIONAL_ADMIN:
        raise PermissionDenied(
            f"{principal.role.value} {principal.subject!r} may not {action}: "
            "only the national team (national_admin) may"
        )
