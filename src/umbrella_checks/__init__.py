"""umbrella-checks: the Umbrella operations runbook as an executable pytest suite."""

__version__ = "0.1.0"
