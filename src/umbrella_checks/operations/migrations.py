"""Comparing the migrations folder with what D1 recorded, the way wrangler does.

wrangler applies ``*.sql`` files whose name has no row in its table, in numeric order, and
ignores rows without a file; the suite reports those too.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^(\d{4})_[a-z0-9][a-z0-9_]*\.sql$")


@dataclass(frozen=True)
class Comparison:
    files: list[str]
    applied: list[str]

    @property
    def pending(self) -> list[str]:
        done = set(self.applied)
        return [name for name in self.files if name not in done]

    @property
    def unknown(self) -> list[str]:
        present = set(self.files)
        return [name for name in self.applied if name not in present]


def migration_files(folder: Path) -> list[str]:
    # Numbered files by number, then any others by name, after them.
    def number(name: str) -> tuple[float, str]:
        head, _, _ = name.partition("_")
        return (int(head) if head.isdigit() else math.inf, name)

    return sorted((p.name for p in folder.glob("*.sql")), key=number)


def naming_problems(files: list[str]) -> list[str]:
    """``NNNN_description.sql``, numbered from 0001 with no gaps or duplicates."""
    problems = [f"{name}: not named NNNN_description.sql" for name in files if not NAME.match(name)]
    numbers = [int(m.group(1)) for name in files if (m := NAME.match(name))]
    for number, count in sorted(Counter(numbers).items()):
        if count > 1:
            problems.append(f"{number:04d}: used by {count} files")
    expected = set(range(1, max(numbers, default=0) + 1))
    problems += [
        f"{gap:04d}: missing (numbers must run from 0001 without gaps)"
        for gap in sorted(expected - set(numbers))
    ]
    return problems
