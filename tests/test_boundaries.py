"""Which modules a process loads: the worker builds its resources without the web application."""

import ast
import subprocess
import sys
from pathlib import Path

VEZA = Path(__file__).resolve().parent.parent / "veza"


def loaded_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_the_worker_loads_no_route_table_and_no_web_application():
    modules = loaded_modules("import workers.settings, workers.run")
    assert "veza.resources" in modules
    assert "veza.app" not in modules
    assert sorted(name for name in modules if name.startswith("veza.") and name.endswith(".routes")) == []


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_veza_never_imports_workers():
    importers = [path for path in VEZA.rglob("*.py") if "workers" in imported_packages(path)]
    assert sorted(str(path.relative_to(VEZA)) for path in importers) == []


def test_veza_worker_finds_the_worker_by_its_entry_point():
    from importlib.metadata import entry_points

    from workers.run import run

    (entry_point,) = entry_points(group="veza.commands", name="worker")
    assert entry_point.load() is run
