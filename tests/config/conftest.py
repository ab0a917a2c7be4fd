"""Shared helpers for the configuration tests: throwaway Postfix config folders and the real tools."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mailsim.config import HostFacts
from tests.peers import require

EPOCH_2000 = 946684800  # Postfix sleeps ~2 s when main.cf is younger than a second or two


def write_config(folder: Path, main_cf: str = "", master_cf: str | None = "", **files: str) -> Path:
    """A config folder with main.cf, master.cf (None: leave it out) and table files, all back-dated."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {"main.cf": main_cf, **files}
    if master_cf is not None:
        contents["master.cf"] = master_cf
    for name, text in contents.items():
        path = folder / name
        path.write_text(text)
        os.utime(path, (EPOCH_2000, EPOCH_2000))
    return folder


def real_host_facts() -> HostFacts:
    """This machine as Postfix sees it (name and interface addresses), for comparing host-derived defaults."""
    addresses: list[str] = []
    ip = shutil.which("ip")
    if ip:
        listing = subprocess.run([ip, "-o", "addr", "show"], capture_output=True, text=True).stdout
        addresses = re.findall(r"\binet6? (\S+)", listing)
    return HostFacts(socket.gethostname(), tuple(addresses))


@pytest.fixture
def config_dir(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``config_dir(main_cf, master_cf, **files)`` → a fresh back-dated folder."""
    counter = iter(range(1000))

    def make(main_cf: str = "", master_cf: str | None = "", **files: str) -> Path:
        return write_config(tmp_path / f"cfg{next(counter)}", main_cf, master_cf, **files)

    return make


def run_real(program: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a real Postfix tool (skips the test when it is not installed)."""
    path = require(program)
    return subprocess.run([program, *args], executable=path, capture_output=True, text=True, cwd=cwd, timeout=30)
