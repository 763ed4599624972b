"""Reading the app's ``wrangler.toml``: worker name, D1 database, migrations folder, crons.

The suite reads these from the app's repo rather than asking the user to repeat them, the way
wrangler reads them for ``--env <name>``: inheritable keys (``triggers``, ``main``, routes…)
fall back to the top level; bindings and ``vars`` are not inherited, so an environment without
its own ``[[env.<name>.d1_databases]]`` has no D1 database at all (never the top-level one);
an environment without ``name`` deploys as ``<name>-<env>``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Keys an [env.<name>] table inherits from the top level when it does not set them. Everything
# else — vars, define and every binding (d1_databases, kv_namespaces, r2_buckets, services,
# durable_objects, queues…) — must be declared per environment.
INHERITABLE = frozenset(
    {
        "main",
        "compatibility_date",
        "compatibility_flags",
        "account_id",
        "workers_dev",
        "route",
        "routes",
        "triggers",
        "build",
        "limits",
        "placement",
        "minify",
        "no_bundle",
        "rules",
        "tsconfig",
        "observability",
        "logpush",
    }
)


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
                f"{path} does not exist; --umbrella-app-dir must be the Umbrella app's checkout"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise WranglerError(f"{path} cannot be read ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise WranglerError(f"{path} is not valid TOML ({exc})") from None
        return cls(app_dir, data)

    def env(self, environment: str) -> dict[str, Any]:
        """The configuration wrangler deploys for ``--env <environment>``.

        ``development`` without an ``[env.development]`` table is the top level, as a plain
        ``wrangler dev`` / ``wrangler deploy`` uses it.
        """
        envs = self.data.get("env", {})
        if environment not in envs:
            if environment == "development":
                return {k: v for k, v in self.data.items() if k != "env"}
            known = ", ".join(sorted(envs)) or "none"
            raise WranglerError(
                f"{self.path} has no [env.{environment}] (environments: {known}); "
                "check --umbrella-environment or the app's wrangler.toml"
            )
        own = dict(envs[environment])
        inherited = {k: v for k, v in self.data.items() if k in INHERITABLE and k not in own}
        if "name" not in own and "name" in self.data:
            inherited["name"] = f"{self.data['name']}-{environment}"
        return {**inherited, **own}

    def where_crons(self, environment: str) -> tuple[list[str], str]:
        """The environment's cron expressions, and which table they came from."""
        envs = self.data.get("env", {})
        if "triggers" in envs.get(environment, {}):
            return list(
                envs[environment]["triggers"].get("crons", [])
            ), f"[env.{environment}.triggers]"
        return list(self.env(environment).get("triggers", {}).get("crons", [])), "[triggers]"

    def worker_name(self, environment: str) -> str:
        return str(self.env(environment).get("name", "unknown"))

    def _table(self, environment: str) -> str:
        in_env = environment in self.data.get("env", {})
        return f"[[env.{environment}.d1_databases]]" if in_env else "[[d1_databases]]"

    def d1(self, environment: str, binding: str = "DB") -> dict[str, Any]:
        for entry in self.env(environment).get("d1_databases") or []:
            if entry.get("binding") == binding:
                return dict(entry)
        raise WranglerError(
            f"{self.path} has no {self._table(environment)} with binding = {binding!r} "
            "(bindings are not inherited from the top level: wrangler deploys this "
            "environment without that database)"
        )

    def r2_buckets(self, environment: str) -> list[str]:
        buckets = self.env(environment).get("r2_buckets") or []
        return [str(b["bucket_name"]) for b in buckets if "bucket_name" in b]

    def migrations_dir(self, environment: str, binding: str = "DB") -> Path:
        # wrangler's default folder is ./migrations.
        return self.app_dir / str(self.d1(environment, binding).get("migrations_dir", "migrations"))

    def migrations_table(self, environment: str, binding: str = "DB") -> str:
        return str(self.d1(environment, binding).get("migrations_table", "d1_migrations"))
