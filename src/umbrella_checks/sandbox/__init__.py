"""The bundled sandbox: a local Umbrella API with fault switches.

``Sandbox`` (the server, in this process) is imported on first use: starting the sandbox in a
process of its own (``process.SandboxProcess``) needs only the fault switches here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from umbrella_checks.sandbox.faults import FAULTS, Faults, fault_table, parse_faults
from umbrella_checks.sandbox.switches import FaultError

if TYPE_CHECKING:
    from umbrella_checks.sandbox.server import Sandbox

__all__ = ["FAULTS", "FaultError", "Faults", "Sandbox", "fault_table", "parse_faults"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from umbrella_checks.sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
