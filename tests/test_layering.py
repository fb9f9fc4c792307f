"""Dependencies point down (DESIGN.md "Shape"): drivers ← station ← sync.

`drivers/` imports nothing of the project; `station/` imports `drivers/` but never `sync/`;
`sync/` may import both. The one exception is the command-line entry point
(`station/cli.py`), which composes everything because it offers `gate-station sync`.
Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"drivers": {"station", "sync"}, "station": {"sync"}}
ENTRY_POINT = ROOT / "station" / "cli.py"


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) for every import statement in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def wrong_way(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path == ENTRY_POINT:
            continue
        for line, target in project_imports(path):
            if target in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package: str) -> None:
    assert wrong_way(package) == []


def test_the_check_catches_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sync.client import run_sync\n    import station.ledger\n")
    assert project_imports(module) == [(2, "sync"), (3, "station")]


def test_only_the_entry_point_composes_station_and_sync() -> None:
    assert any(target == "sync" for _, target in project_imports(ENTRY_POINT))
