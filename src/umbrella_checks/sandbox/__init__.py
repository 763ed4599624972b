"""The bundled sandbox: a local Umbrella API with fault switches."""

from umbrella_checks.sandbox.faults import FAULTS, FaultError, Faults, fault_table, parse_faults
from umbrella_checks.sandbox.server import Sandbox

__all__ = ["FAULTS", "FaultError", "Faults", "Sandbox", "fault_table", "parse_faults"]
