"""postsrsd: the Sender Rewriting Scheme daemon Postfix asks through two ``tcp:`` lookup tables.

Debian's postsrsd (1.x) is configured in ``/etc/default/postsrsd``, kept in the host folder as
``postsrsd`` (shell-variable lines)::

    SRS_DOMAIN=atrust.com
    SRS_SECRET=/etc/postsrsd.secret      # a file in the host folder; or SRS_SECRET_TEXT=...
    SRS_FORWARD_PORT=10001
    SRS_REVERSE_PORT=10002
    SRS_EXCLUDE_DOMAINS=

and wired into main.cf the documented way::

    sender_canonical_maps = tcp:localhost:10001
    sender_canonical_classes = envelope_sender
    recipient_canonical_maps = tcp:localhost:10002
    recipient_canonical_classes = envelope_recipient, header_recipient

cleanup(8) then rewrites every envelope sender outside ``SRS_DOMAIN`` - also of mail forwarded
by local(8) aliases, which is the point - to ``SRS0=HHHH=TT=domain=local@SRS_DOMAIN``, and a
bounce that comes back to such an address is reversed to the original sender. The tables answer
only complete addresses (as postsrsd answers ``500`` for anything else), with the simulated clock
for the day stamp.

Postfix parameters read: none (the tables are named by sender_canonical_maps and
recipient_canonical_maps, which cleanup reads).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailsim.core.errors import ConfigError
from mailsim.mta.milters.keys import host_path
from mailsim.policy.auth.srs import SrsError, SrsSettings, forward, is_srs, reverse

FILE = "postsrsd"
DEFAULT_PORTS = {"SRS_FORWARD_PORT": "10001", "SRS_REVERSE_PORT": "10002"}


class SrsTable:
    """One direction of postsrsd as a Postfix lookup table (``tcp:localhost:PORT``)."""

    pattern = True  # Postfix sends it complete keys only (see the module docstring)

    def __init__(self, spec: str, settings: SrsSettings, now: Callable[[], float], excluded: frozenset[str],
                 *, reverse_direction: bool) -> None:  # fmt: skip
        self.spec = spec
        self.settings = settings
        self.now = now
        self.excluded = excluded
        self.reverse_direction = reverse_direction

    def lookup(self, key: str) -> str | None:
        if "@" not in key:
            return None
        if self.reverse_direction:
            if not is_srs(key) or key.rpartition("@")[2].lower() != self.settings.domain.lower():
                return None
            try:
                return reverse(key, self.settings, now=self.now())
            except SrsError:
                return None
        if key.rpartition("@")[2].lower() in self.excluded:
            return None
        try:
            rewritten = forward(key, self.settings, now=self.now())
        except SrsError:
            return None
        return rewritten if rewritten != key else None


def parse_postsrsd(text: str, *, file: str, folder: Path) -> dict[str, str]:
    """``NAME=value`` lines (quotes stripped); the secret file's first line becomes SRS_SECRET_TEXT."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(file=file, line=number, key=name.strip() or line, expected="NAME=value", found=line)
        values[name.strip()] = value.strip().strip("'\"")
    if "SRS_DOMAIN" not in values:
        raise ConfigError(file=file, key="SRS_DOMAIN", expected="the forwarder's domain", found="nothing")
    if "SRS_SECRET_TEXT" not in values:
        path = host_path(folder, values.get("SRS_SECRET", "/etc/postsrsd.secret"))
        if not path.is_file():
            raise ConfigError(file=file, key="SRS_SECRET", expected="a secret file in the host folder", found=str(path))
        values["SRS_SECRET_TEXT"] = path.read_text(encoding="utf-8").strip().splitlines()[0]
    return values


def postsrsd_tables(folder: Path, now: Callable[[], float]) -> dict[str, SrsTable]:
    """The two tables by every ``tcp:`` spec Postfix may use for them; empty without a postsrsd file."""
    path = Path(folder) / FILE
    if not path.is_file():
        return {}
    values = parse_postsrsd(path.read_text(encoding="utf-8"), file=str(path), folder=folder)
    settings = SrsSettings(values["SRS_DOMAIN"], tuple(values["SRS_SECRET_TEXT"].split()))
    excluded = frozenset(d.strip().lower().lstrip(".") for d in values.get("SRS_EXCLUDE_DOMAINS", "").split(",") if d)
    tables = {}
    for variable, reverse_direction in (("SRS_FORWARD_PORT", False), ("SRS_REVERSE_PORT", True)):
        port = values.get(variable, DEFAULT_PORTS[variable])
        for host in ("localhost", "127.0.0.1", "[127.0.0.1]"):
            spec = f"tcp:{host}:{port}"
            tables[spec] = SrsTable(spec, settings, now, excluded, reverse_direction=reverse_direction)
    return tables
