"""pyproject.toml builds cited without a warning from setuptools (a newcomer's first
`make install` used to print seven warning boxes: the licence as a table, the data folders
that were no packages, the editable install's import hook) and ships every file the
server needs: the stages, the reading models' weights, the chat page and its vendored API
reference.

Built by the setuptools installed here, without build isolation (no download), from a
copy of the project, so nothing is written into the working tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("ingest", "index", "retrieve", "answer", "api", "web")

BUILD = """
import sys
from setuptools import build_meta
kind = sys.argv[1]
build = build_meta.build_wheel if kind == "wheel" else build_meta.build_editable
print(build("dist"))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    for package in SHIPPED:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return copy


def build(project: Path, kind: str) -> tuple[zipfile.ZipFile, str]:
    """(the wheel, everything the build printed)."""
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", BUILD, kind],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    return zipfile.ZipFile(project / "dist" / name), done.stdout + done.stderr


def test_the_wheel_builds_without_warnings_and_ships_the_data(project: Path) -> None:
    wheel, printed = build(project, "wheel")
    assert "Warning" not in printed, printed
    names = set(wheel.namelist())
    for package in SHIPPED:
        assert f"{package}/__init__.py" in names
    assert "api/routes/ask.py" in names
    weights = {n for n in names if n.startswith("answer/weights/")}
    assert weights == {
        "answer/weights/MANIFEST.json",
        "answer/weights/answer.safetensors",
        "answer/weights/support.safetensors",
    }
    assert {"web/index.html", "web/docs.html", "web/static/chat.js", "web/static/app.css"} <= names
    assert "web/static/vendor/swagger-ui/swagger-ui-bundle.js" in names
    assert "web/static/vendor/swagger-ui/LICENSE" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "bench/"))]
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    text = metadata.decode()
    assert "License-Expression: Apache-2.0" in text
    assert "unstructured[" in text and "html" not in text.split("unstructured[")[1].split("]")[0]


def test_the_editable_install_is_a_plain_path_entry_without_warnings(project: Path) -> None:
    wheel, printed = build(project, "editable")
    assert "Warning" not in printed, printed
    (pth,) = [n for n in wheel.namelist() if n.endswith(".pth")]
    assert wheel.read(pth).decode().strip() == str(project.resolve())
