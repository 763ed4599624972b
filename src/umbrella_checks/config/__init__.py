"""The suite's configuration: thresholds (``umbrella.toml``), settings resolved from
the command line, environment and file, the app's ``wrangler.toml`` and the status matrix.
"""
