"""The suite's commands besides pytest (``python -m umbrella_checks <command>``): the release
gate, the monitor, the deploy watch and the contract diff. The top layer, beside the plugin."""
