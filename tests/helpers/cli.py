"""The `cited` command in a subprocess, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cited(
    data: Path | None,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`cited ARGS` on the data dir `data` (SQLite there unless `env` names a database;
    None: CITED_DATA_DIR unset, so ./data of `cwd`), with a 2 MB file limit; its exit code
    and captured output."""
    full_env = {**os.environ, "CITED_DATA_DIR": str(data), "CITED_MAX_FILE_MB": "2", **(env or {})}
    if data is None:
        full_env.pop("CITED_DATA_DIR")
    if "CITED_DATABASE_URL" not in (env or {}):
        full_env.pop("CITED_DATABASE_URL", None)
    return subprocess.run(
        [str(Path(sys.executable).with_name("cited")), *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
