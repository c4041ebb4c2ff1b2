"""The layer contract (pyproject.toml, [tool.importlinter]): kept by the project as it is, and
broken by an upward import, however it is hidden (inside a function, too)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # the project's own linter on a directory the test made
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return {"root_packages": config["root_packages"], "layers": layers}


def test_layers__the_project__kept():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout[-2000:]
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_layers__order__the_one_docs_architecture_names():
    assert contract()["layers"]["layers"] == [
        "console",
        "insights",
        "agents",
        "billing",
        "alerts",
        "tenants",
        "accounts",
        "audit",
        "core",
    ]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("core/api.py", "from tenants.models import Tenant\n"),
        ("core/api.py", "def f():\n    from audit.services import audit_record\n    return audit_record\n"),
        ("accounts/services.py", "import billing.services\n"),
        ("tenants/selectors.py", "from billing import services\n"),
    ],
)
def test_layers__an_upward_import__broken(tmp_path, module, source):
    config = contract()
    for package in config["root_packages"]:
        (tmp_path / package).mkdir()
        for name in ("__init__", "models", "services", "selectors", "api"):
            (tmp_path / package / f"{name}.py").write_text("")
    # A test importing across layers, as tests may (and the ignore rule expects to match).
    (tmp_path / "core" / "tests").mkdir()
    (tmp_path / "core" / "tests" / "__init__.py").write_text("")
    (tmp_path / "core" / "tests" / "test_x.py").write_text("import billing\n")
    path = tmp_path / module
    path.write_text(source)
    layers = config["layers"]
    lines = [
        "[tool.importlinter]",
        f"root_packages = {config['root_packages']!r}",
        "[[tool.importlinter.contracts]]",
        f"id = {layers['id']!r}",
        f"name = {layers['name']!r}",
        'type = "layers"',
        f"layers = {layers['layers']!r}",
        f"ignore_imports = {layers['ignore_imports']!r}",
    ]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines).replace("'", '"') + "\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout[-2000:]
    assert "BROKEN" in result.stdout
