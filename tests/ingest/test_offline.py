"""Ingestion opens no socket to a non-loopback address, in any process (workers included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.files import write_good_corpus

# Installed into every Python process of the run through sitecustomize: records each
# attempt to resolve or connect to a non-loopback address, and that the hook was armed.
HOOK = r"""
import os, socket, sys
_log = os.environ["CITED_TEST_NETLOG"]
_LOCAL = {None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0"}

def _write(line):
    with open(_log, "a") as handle:
        handle.write(line + "\n")

def _remote(host):
    host = host.decode() if isinstance(host, bytes) else host
    return host not in _LOCAL and not str(host).startswith("127.")

def _hook(event, args):
    if event == "socket.connect":
        sock, address = args
        if sock.family in (socket.AF_INET, socket.AF_INET6) and _remote(address[0]):
            _write(f"connect {address!r} pid {os.getpid()}")
    elif event == "socket.getaddrinfo" and _remote(args[0]):
        _write(f"getaddrinfo {args[0]!r} pid {os.getpid()}")

sys.addaudithook(_hook)
_write(f"armed pid {os.getpid()}")
"""


@pytest.mark.slow
def test_ingestion_of_every_format_stays_on_this_machine(tmp_path: Path) -> None:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    netlog = tmp_path / "net.log"
    write_good_corpus(tmp_path / "in")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook_dir), os.environ.get("PYTHONPATH", "")]),
        "CITED_TEST_NETLOG": str(netlog),
        "CITED_DATA_DIR": str(tmp_path / "data"),
    }
    # A user's environment that would normally let unstructured phone home.
    for key in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "HF_HUB_OFFLINE", "CITED_DATABASE_URL"):
        env.pop(key, None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cited")), "ingest", str(tmp_path / "in"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"]["added"] == 5
    lines = netlog.read_text().splitlines()
    armed = {line for line in lines if line.startswith("armed")}
    assert len(armed) >= 2, "the hook must run in the CLI and in its parser workers"
    assert [line for line in lines if not line.startswith("armed")] == []
