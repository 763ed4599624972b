"""Reading the app's ``wrangler.toml``: worker name, D1 database, migrations folder, crons.

The suite reads these from the app's repo rather than asking the user to repeat them, with
wrangler's own fallbacks: an environment without its own triggers or D1 binding uses the
top-level ones.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class WranglerError(Exception):
    """A wrangler.toml problem, phrased as one line."""


@dataclass(frozen=True)
class WranglerApp:
    app_dir: Path
    data: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.app_dir / "wrangler.toml"

    @classmethod
    def load(cls, app_dir: Path) -> WranglerApp:
        path = app_dir / "wrangler.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WranglerError(
                f"{path} does not exist; --app-dir must be the Umbrella app's checkout"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise WranglerError(f"{path} cannot be read ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise WranglerError(f"{path} is not valid TOML ({exc})") from None
        return cls(app_dir, data)

    def env(self, environment: str) -> dict[str, Any]:
        """The ``[env.<environment>]`` table; development may use the top level."""
        envs = self.data.get("env", {})
        if environment in envs:
            return dict(envs[environment])
        if environment == "development":
            return {}
        known = ", ".join(sorted(envs)) or "none"
        raise WranglerError(
            f"{self.path} has no [env.{environment}] (environments: {known}); "
            "check --environment or the app's wrangler.toml"
        )

    def where_crons(self, environment: str) -> tuple[list[str], str]:
        """The environment's cron expressions, and which table they came from."""
        env = self.env(environment)
        if "triggers" in env:
            return list(env["triggers"].get("crons", [])), f"[env.{environment}.triggers]"
        return list(self.data.get("triggers", {}).get("crons", [])), "[triggers]"

    def worker_name(self, environment: str) -> str:
        return str(self.env(environment).get("name") or self.data.get("name", "unknown"))

    def d1(self, environment: str, binding: str = "DB") -> dict[str, Any]:
        env = self.env(environment)
        for table in (env.get("d1_databases"), self.data.get("d1_databases")):
            for entry in table or []:
                if entry.get("binding") == binding:
                    return dict(entry)
        raise WranglerError(f"{self.path} has no [[d1_databases]] with binding = {binding!r}")

    def migrations_dir(self, environment: str) -> Path:
        # wrangler's default folder is ./migrations.
        return self.app_dir / str(self.d1(environment).get("migrations_dir", "migrations"))

    def migrations_table(self, environment: str) -> str:
        return str(self.d1(environment).get("migrations_table", "d1_migrations"))
