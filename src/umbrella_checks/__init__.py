"""umbrella-checks: the Umbrella operations runbook as an executable pytest suite."""

__version__ = "0.1.0"

# The environments a deploy can be in (config sections, --umbrella-environment, the sandbox's
# report).
# Here, not in config.py: the entry point and the sandbox's process need them at start-up,
# before (or without) the settings machinery.
ENVIRONMENTS = ("production", "staging", "preview", "development")
