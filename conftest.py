"""Root conftest: the suite's fixtures come from the umbrella_checks plugin (pytest11 entry
point), so this file stays empty on purpose. Put per-repo tweaks here, not in checks/."""
