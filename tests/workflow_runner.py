"""Run a shipped workflow's jobs the way GitHub Actions would, as far as this machine can.

Each job's ``run:`` steps execute in bash with the job's ``env`` expanded from a context the
test gives (``inputs.*``, ``secrets.*``, ``vars.*``, ``github.workspace``); ``uses:`` steps are
recorded, not run (checkout and setup-python are the test's own environment; wrangler-action is
the one thing a local run cannot do) — except upload-artifact and download-artifact, which hand
files between a test's jobs as Actions hands them between a run's (``artifacts``). Installing
the suite is skipped: the test runs the installed one. A step that fails fails the job, as in
Actions (unless it says ``continue-on-error``), and ``if: always()`` steps still run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def expand(text: str, context: dict[str, str]) -> str:
    """``${{ name }}``, ``${{ name || 'default' }}`` and ``${{ name || other.name }}``: the only
    forms the workflows use in values a local run needs."""

    def value(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition("||")
        found = context.get(name.strip(), "")
        default = default.strip()
        if default.startswith("'"):
            return found or default.strip("'")
        return found or context.get(default, "")

    return EXPRESSION.sub(value, text)


@dataclass
class JobRun:
    failed: bool = False
    ran: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    output: str = ""
    # The job's ``outputs:``, from its steps' $GITHUB_OUTPUT lines.
    outputs: dict[str, str] = field(default_factory=dict)
    # What its steps wrote to $GITHUB_STEP_SUMMARY (the run page's summary).
    summary: str = ""

    @property
    def result(self) -> str:
        return "failure" if self.failed else "success"

    def as_needs(self, name: str) -> dict[str, str]:
        """This job as a later job's ``needs.<name>`` context."""
        found = {f"needs.{name}.result": self.result}
        found.update({f"needs.{name}.outputs.{k}": v for k, v in self.outputs.items()})
        return found


_TOKEN = re.compile(
    r"\s*(&&|\|\||==|!=|>=|<=|>|<|!|\(|\)|'[^']*'|\d+(?:\.\d+)?|[A-Za-z_][\w.\-]*\(\)"
    r"|[A-Za-z_][\w.\-]*)"
)


def evaluate(condition: str, context: dict[str, str]) -> bool:
    """A job's ``if:`` as Actions evaluates the forms the workflows use: ``always()``,
    ``success()``, ``failure()`` (of the jobs in ``needs``), ``&&``, ``||``, ``!``, ``==``,
    ``!=``, ``>`` and the like, '…' literals, numbers and context names (missing ones are empty;
    an input "true"/"false" is a boolean and a number input a number; outputs are strings)."""
    text = EXPRESSION.sub(lambda m: m.group(1), condition.strip()) or "success()"
    needs_failed = any(k.endswith(".result") and v == "failure" for k, v in context.items())
    words: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match, f"cannot read {text[position:]!r} in {condition!r}"
        token, position = match.group(1), match.end()
        if token in ("&&", "||", "!"):
            words.append({"&&": " and ", "||": " or ", "!": " not "}[token])
        elif token in ("==", "!=", ">=", "<=", ">", "<", "(", ")"):
            words.append(token)
        elif token[0].isdigit():
            words.append(repr(float(token)))
        elif token.endswith("()"):
            words.append(
                repr({"always()": True, "success()": not needs_failed}.get(token, needs_failed))
            )
        elif token.startswith("'"):
            words.append(repr(token[1:-1]))
        else:
            value = context.get(token, "")
            if not token.startswith("inputs."):  # outputs and the like are strings
                words.append(repr(value))
            elif re.fullmatch(r"\d+(\.\d+)?", value):
                words.append(repr(float(value)))
            else:
                words.append(repr({"true": True, "false": False}.get(value, value)))
    return bool(eval("".join(words), {"__builtins__": {}}))  # own tokens only


def _hand_over(
    action: str, inputs: dict[str, str], store: dict[str, Path], directories: dict[str, Path]
) -> None:
    """upload-artifact keeps a file under its name; download-artifact puts it back (a missing
    artifact downloads nothing, as the workflows' continue-on-error expects)."""
    if action.startswith("actions/upload-artifact") and "name" in inputs:
        source = Path(inputs["path"])
        if not source.is_absolute():
            source = directories[""] / source
        if source.is_file():
            kept = Path(tempfile.mkdtemp(prefix="artifact-")) / source.name
            shutil.copy(source, kept)
            store[inputs["name"]] = kept
    elif action.startswith("actions/download-artifact") and inputs.get("name") in store:
        target = Path(inputs["path"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(store[inputs["name"]], target / store[inputs["name"]].name)


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

    def should_run(self, name: str, context: dict[str, str]) -> bool:
        """The job's ``if:`` against ``context`` (with ``needs.<job>.*`` of the jobs it needs)."""
        return evaluate(str(self.job(name).get("if", "")), context)

    def run_job(
        self,
        name: str,
        context: dict[str, str],
        directories: dict[str, Path],
        extra_env: dict[str, str],
        install_fails: bool = False,
        artifacts: dict[str, Path] | None = None,
    ) -> JobRun:
        """``directories`` maps a step's working-directory ("" for the checkout root).
        ``install_fails``: the "Install umbrella-checks" step fails, as pip does when PyPI is
        down (otherwise it is skipped: the test runs the installed suite)."""
        job = self.job(name)
        env = {key: expand(str(value), context) for key, value in job.get("env", {}).items()}
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
        # The steps' `python` is the one running these self-tests (setup-python's, on a runner),
        # whatever comes first on the caller's PATH.
        base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
        scratch = Path(tempfile.mkdtemp(prefix=f"job-{name}-"))
        context = {**context, "runner.temp": str(scratch)}
        store = artifacts if artifacts is not None else {}
        outputs = scratch / "github_output"
        outputs.touch()
        summary = scratch / "step_summary"
        base.update(
            RUNNER_TEMP=str(scratch), GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary)
        )
        result = JobRun()
        steps: dict[str, str] = {}
        for step in job["steps"]:
            label = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            condition = str(step.get("if", ""))
            if result.failed and "always()" not in condition:
                continue
            if condition and not evaluate(
                condition.replace("always() && ", ""), {**context, **steps}
            ):
                continue
            if "uses" in step:
                inputs = {k: expand(str(v), context) for k, v in step.get("with", {}).items()}
                result.recorded.append(f"{step['uses'].split('@')[0]} {inputs}")
                _hand_over(step["uses"], inputs, store, directories)
                continue
            if str(label).startswith("Install umbrella-checks"):
                if install_fails:
                    result.ran.append(str(label))
                    result.failed = True
                continue
            step_env = {k: expand(str(v), context) for k, v in step.get("env", {}).items()}
            before = outputs.read_text(encoding="utf-8")
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", expand(step["run"], context)],
                cwd=directories[step.get("working-directory", "")],
                env={**base, **env, **extra_env, **step_env},
                capture_output=True,
                text=True,
                timeout=300,
            )
            result.ran.append(str(label))
            result.output += done.stdout + done.stderr
            written = outputs.read_text(encoding="utf-8")[len(before) :]
            for line in written.splitlines():
                key, _, value = line.partition("=")
                steps[f"steps.{step.get('id', '')}.outputs.{key}"] = value
            if done.returncode != 0 and not step.get("continue-on-error"):
                result.failed = True
        result.summary = summary.read_text(encoding="utf-8") if summary.exists() else ""
        result.outputs = {
            key: expand(str(value), {**context, **steps})
            for key, value in job.get("outputs", {}).items()
        }
        return result
