"""The packages stand in floors (docs/architecture.md): each imports only the floors below it,
so the Prefect-free core (raas, rewards) never depends on flows, tasks or deployments."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BELOW = {
    "raas": set(),  # Tango's client: the bottom floor
    "rewards": {"raas"},  # the core: reading, validation, ledger, planning, reports
    "sandbox": {"raas"},  # Tango's imitation, built on the same wire models and rules
    "webhooks": {"raas"},  # the receiver of Tango's events
    "tasks": {"raas", "rewards", "webhooks"},  # Prefect tasks: one-line wrappers of steps
    "flows": {"raas", "rewards", "tasks"},  # the stories of runs
    "deployments": {"raas", "rewards", "sandbox", "tasks", "webhooks", "flows"},  # CLI, serve
}
OURS = set(BELOW) | {"bench", "proof", "tests"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Each of our packages ``package`` imports, with the files that do it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in OURS and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_each_package_imports_only_the_floors_below_it() -> None:
    wrong = {
        f"{package} imports {other} ({', '.join(sorted(files))})"
        for package, allowed in BELOW.items()
        for other, files in imports_of(package).items()
        if other not in allowed
    }
    assert not wrong, "upward or sideways imports: " + "; ".join(sorted(wrong))


def test_the_check_sees_imports() -> None:
    """The walk above finds imports at all: rewards does import raas."""
    assert "raas" in imports_of("rewards") and "rewards" in imports_of("flows")
