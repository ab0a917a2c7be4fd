"""Where a running ``mailsim serve`` listens, in a small JSON file that ``mailsim mail`` reads.

``mailsim serve`` binds its services on free 127.0.0.1 ports; so that ``mailsim mail`` finds them without
being told, serve writes this file once it is listening and removes it when it stops. The file names the
server's process id (a file left by a killed server is recognised as stale), each bound service (host,
service, address, port), the scenario's users (address, password, host: a simulated world's toy
credentials, so the file is made readable by its owner only) and the scenario CA's certificate, so the
client can verify the MSA's STARTTLS certificate as the scenario's own user agents do.

Location: ``$MAILSIM_SERVE_STATE`` when set (tests, several servers side by side), else
``$XDG_RUNTIME_DIR/mailsim-serve.json``, else ``/tmp/mailsim-serve-<uid>.json``. Postfix parameters read: none.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailsim.core.errors import MailsimError

STATE_ENV = "MAILSIM_SERVE_STATE"
VERSION = 1


@dataclass(frozen=True, slots=True)
class BoundAt:
    """One service of one simulated host, as bound on loopback."""

    host: str
    service: str
    address: str
    port: int


@dataclass(frozen=True, slots=True)
class ServeUser:
    """A user of the served scenario (the ``[[users]]`` table)."""

    address: str
    password: str
    host: str | None


@dataclass(frozen=True, slots=True)
class ServeState:
    """What one running ``mailsim serve`` published."""

    pid: int
    scenario: str
    client: str | None
    services: tuple[BoundAt, ...]
    users: tuple[ServeUser, ...]
    ca_pem: str | None = None

    def find(self, service: str) -> list[BoundAt]:
        """The bound instances of a service (``submission``, ``imap``, ``pop3``, ``smtp``)."""
        return [s for s in self.services if s.service == service]


def state_path() -> Path:
    """The state file's path (see the module docstring)."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "mailsim-serve.json"
    return Path(tempfile.gettempdir()) / f"mailsim-serve-{os.getuid()}.json"


def write_state(state: ServeState, path: Path | None = None) -> Path:
    """Publish ``state`` atomically, readable by its owner only."""
    path = path or state_path()
    data = {
        "version": VERSION,
        "pid": state.pid,
        "scenario": state.scenario,
        "client": state.client,
        "services": [vars_of(s) for s in state.services],
        "users": [vars_of(u) for u in state.users],
        "ca_pem": state.ca_pem,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(temporary, path)
    return path


def remove_state(path: Path, pid: int) -> None:
    """Remove the file if it is still ours (a newer server may have replaced it)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def read_state(path: Path | None = None) -> ServeState:
    """The running server's state; MailsimError (one line) when there is none or it is gone."""
    path = path or state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = ServeState(
            int(data["pid"]), str(data["scenario"]), data.get("client"),
            tuple(BoundAt(s["host"], s["service"], s["address"], int(s["port"])) for s in data["services"]),
            tuple(ServeUser(u["address"], u["password"], u.get("host")) for u in data["users"]), data.get("ca_pem"),
        )  # fmt: skip
    except FileNotFoundError:
        raise MailsimError(f"no running `mailsim serve` found ({path} does not exist): start one, "
                           "or give --server 127.0.0.1:PORT") from None  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MailsimError(f"{path}: not a mailsim serve state file ({error})") from None
    if not _alive(state.pid):
        raise MailsimError(f"the `mailsim serve` recorded in {path} (pid {state.pid}) is no longer running")
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def vars_of(record: Any) -> dict[str, Any]:
    """A slotted record as a plain dict (for JSON)."""
    return {name: getattr(record, name) for name in record.__slots__}


def bound_services(items: Iterable[Any]) -> tuple[BoundAt, ...]:
    """``(host, service, address, port)`` tuples (what :func:`mailsim.live.serve.serve` reports) as records."""
    return tuple(BoundAt(str(h), str(s), str(a), int(p)) for h, s, a, p in items)
