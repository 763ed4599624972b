"""What a running sandbox tells the suite about itself: where it listens, which environment it
reports, its app checkout, database and trend history, its test accounts' tokens, and where its
own Cloudflare, Sentry and Slack answer. One shape both ways: the sandbox describes itself with
it (``Sandbox.info``), and a run reads it back from the sandbox process's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SandboxInfo:
    """What a running sandbox tells the suite about itself."""

    url: str
    environment: str
    version: str
    app_dir: Path
    d1_sqlite: Path
    tokens: dict[str, str] = field(repr=False)
    # Where its Cloudflare, Sentry and Slack answer, with their credentials (services.py).
    services: dict[str, str] = field(repr=False, default_factory=dict)
    history: Path | None = None
    faults: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxInfo:
        return cls(
            url=data["url"],
            environment=data["environment"],
            version=data["version"],
            app_dir=Path(data["app_dir"]),
            d1_sqlite=Path(data["d1_sqlite"]),
            tokens=dict(data["tokens"]),
            services=dict(data.get("services", {})),
            history=Path(data["history"]) if data.get("history") else None,
            faults=tuple(data.get("faults", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "environment": self.environment,
            "version": self.version,
            "app_dir": str(self.app_dir),
            "d1_sqlite": str(self.d1_sqlite),
            "tokens": self.tokens,
            "services": self.services,
            "history": str(self.history) if self.history else None,
            "faults": list(self.faults),
        }
