"""Which modules a process loads: the worker builds its resources without the web application."""

import subprocess
import sys


def loaded_modules(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_the_worker_loads_no_route_table_and_no_web_application():
    modules = loaded_modules("import workers.settings, workers.run")
    assert "veza.resources" in modules
    assert "veza.app" not in modules
    assert sorted(name for name in modules if name.startswith("veza.") and name.endswith(".routes")) == []
