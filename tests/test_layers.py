"""DESIGN.md §2: a lower layer never imports a higher one, and sibling packages of one layer stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mailsim"

LAYERS = {
    "core": 0,
    "mail": 1,
    "config": 1,
    "policy": 2,
    "dns": 2,
    "net": 2,
    "engine": 3,
    "ua": 4,
    "msa": 4,
    "mta": 4,
    "da": 4,
    "aa": 4,
    "scenario": 5,
    "live": 5,
    "analysis": 6,
}
# Engines and sockets are confined to the seam (DESIGN.md §2: only engine/ and live/ import them).
ENGINE_ONLY = {"aiosmtpd", "aiosmtplib"}
# A live run runs a scenario (DESIGN.md §7): the one sideways edge inside a layer.
SIDEWAYS = {("live", "scenario")}
ENGINE_PACKAGES = {"engine", "live"}


def _package_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; use absolute mailsim.* imports")
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _package_of(path)
        if own is None:
            continue
        for line, module in _imports(path):
            top = module.split(".")
            if top[0] in ENGINE_ONLY and own not in ENGINE_PACKAGES:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {own}/ imports {module}")
            if top[0] != "mailsim" or len(top) < 2 or top[1] not in LAYERS or top[1] == own:
                continue
            if LAYERS[top[1]] >= LAYERS[own] and (own, top[1]) not in SIDEWAYS:
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {own}/ (L{LAYERS[own]}) imports "
                    f"{module} (L{LAYERS[top[1]]})"
                )
    return problems


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_no_upward_or_sideways_import() -> None:
    assert _violations() == []


def test_the_walker_catches_an_upward_import(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "mailsim"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text("from mailsim.mta import cleanup\nimport aiosmtpd\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    problems = _violations()
    assert len(problems) == 2 and "imports mailsim.mta" in problems[0]
