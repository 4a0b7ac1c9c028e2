import json
import subprocess
import sys

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.slow


def test_veza_openapi_prints_a_valid_document():
    proc = subprocess.run([sys.executable, "-m", "veza", "openapi"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(proc.stdout)
    validate(spec)
    assert "/api/v1/health" in spec["paths"]


def test_veza_help_lists_the_commands():
    proc = subprocess.run([sys.executable, "-m", "veza", "--help"], capture_output=True, text=True, timeout=60)
    for command in ("serve", "worker", "migrate", "dev", "seed", "openapi"):
        assert command in proc.stdout
