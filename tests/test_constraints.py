"""constraints.txt must install on any machine: every pin is name==version, never a path or URL."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")


def pins() -> list[str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_every_constraint_is_a_name_and_a_version():
    bad = [line for line in pins() if not PIN.match(line)]
    assert bad == []


def test_constraints_pin_each_package_once():
    names = [re.split("==", line)[0].lower().replace("_", "-") for line in pins()]
    assert len(names) == len(set(names)) > 10


def test_the_pattern_refuses_local_paths_and_urls():
    assert not PIN.match("swagger-ui-py @ file:///tmp/whl/swagger_ui_py-25.7.1-py3-none-any.whl")
    assert not PIN.match("pkg @ https://example.org/pkg-1.0.tar.gz")
    assert not PIN.match("pkg>=1.0")
    assert PIN.match("swagger-ui-py==25.7.1")
