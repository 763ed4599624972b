"""Run a shipped workflow's jobs the way GitHub Actions would, as far as this machine can.

Each job's ``run:`` steps execute in bash with the job's ``env`` expanded from a context the
test gives (``inputs.*``, ``secrets.*``, ``vars.*``, ``github.workspace``); ``uses:`` steps are
recorded, not run (checkout and setup-python are the test's own environment; wrangler-action is
the one thing a local run cannot do). Installing the suite is skipped: the test runs the
installed one. A step that fails fails the job, as in Actions, and ``if: always()`` steps
still run.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def expand(text: str, context: dict[str, str]) -> str:
    """``${{ name }}`` and ``${{ name || 'default' }}``: the only forms the workflows use in
    values a local run needs."""

    def value(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition("||")
        found = context.get(name.strip(), "")
        return found or default.strip().strip("'")

    return EXPRESSION.sub(value, text)


@dataclass
class JobRun:
    failed: bool = False
    ran: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    output: str = ""


@dataclass
class Workflow:
    path: Path

    @property
    def data(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        assert isinstance(loaded, dict)
        return loaded

    def job(self, name: str) -> dict[str, Any]:
        job = self.data["jobs"][name]
        assert isinstance(job, dict)
        return job

    def run_job(
        self,
        name: str,
        context: dict[str, str],
        directories: dict[str, Path],
        extra_env: dict[str, str],
    ) -> JobRun:
        """``directories`` maps a step's working-directory ("" for the checkout root)."""
        job = self.job(name)
        env = {key: expand(str(value), context) for key, value in job.get("env", {}).items()}
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
        result = JobRun()
        for step in job["steps"]:
            label = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            condition = str(step.get("if", ""))
            if result.failed and "always()" not in condition:
                continue
            if "uses" in step:
                inputs = {k: expand(str(v), context) for k, v in step.get("with", {}).items()}
                result.recorded.append(f"{step['uses'].split('@')[0]} {inputs}")
                continue
            if str(label).startswith("Install umbrella-checks"):
                continue
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", expand(step["run"], context)],
                cwd=directories[step.get("working-directory", "")],
                env={**base, **env, **extra_env},
                capture_output=True,
                text=True,
                timeout=300,
            )
            result.ran.append(str(label))
            result.output += done.stdout + done.stderr
            if done.returncode != 0:
                result.failed = True
        return result
