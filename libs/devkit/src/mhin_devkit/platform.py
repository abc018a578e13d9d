"""Kept for the deployment tests written against this path; the registry lives in
mhin_platform.processes (the CLI needs it too)."""

from mhin_platform.processes import PLATFORM, ProcessSpec

__all__ = ["PLATFORM", "ProcessSpec"]
