"""local(8) against the oracle: the same aliases, .forward files and messages a real Postfix 3.7.11 delivered on this
machine must give the same log records (to, orig_to, relay, dsn, status, text), in the same order.

The observed lines are in ``tests/da/data/postfix-3.7.11-local.log``; only queue ids and delays differ.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailsim.da.local import LocalAgent
from mailsim.da.programs import Cat, Exit, ProgramRegistry
from tests.da.fakes import MESSAGE, FakeHost

ORACLE_LOG = Path(__file__).parent / "data" / "postfix-3.7.11-local.log"
ALIASES = """\
mailer-daemon: "/dev/null"
cron-status: /tmp/pfxo/files/cron-status-messages
autolog: "|/usr/local/bin/autologger"
shfail: "|nosuchprog --x > /dev/null"
truecmd: "|/bin/true"
falsecmd: "|/bin/false"
tempcmd: "|/bin/sh -c 'exit 75'"
nouser: "|/bin/sh -c 'exit 67'"
dsncmd: "|/bin/sh -c 'echo 4.7.1 try later; exit 1'"
catnull: "|cat > /dev/null"
abdou: abdou@remote.example
a: b
b: a
self: self, root
mixed: root, nosuchuser
maildir: /tmp/pfxo/files/md/
staff: :include:/tmp/pfxo/files/staff
list: root, daemon, nosuchone
owner-list: root
tofile2: :include:/tmp/pfxo/files/tricky
"""
FILES = {
    "/tmp/pfxo/files/staff": "root\nabdou\n",
    "/tmp/pfxo/files/tricky": "/tmp/pfxo/files/x\n",
    "/tmp/pfxo/fwd/daemon.forward": "root\n",
    "/tmp/pfxo/fwd/daemon.forward+ext": "/tmp/pfxo/files/daemon-ext\n",
    "/tmp/pfxo/fwd/sys.forward": 'sys, /tmp/pfxo/files/sysarchive, "|/bin/true"\n',
}
FORWARD = (
    "forward_path = /tmp/pfxo/fwd/${user}.forward${recipient_delimiter}${extension}, /tmp/pfxo/fwd/${user}.forward\n"
    "luser_relay = root\n"
)
MAIN_CF = {
    "base": "",
    "loops": "",
    "forward": FORWARD,
    "files-alias-only": FORWARD + "allow_mail_to_files = alias\n",
}
LOOP_HEADERS = b"Delivered-To: root@oracle.example\r\nDelivered-To: B@Oracle.example\r\n"
_LINE = re.compile(
    r"^to=<(?P<to>[^>]*)>(?:, orig_to=<(?P<orig>[^>]*)>)?, relay=(?P<relay>\S+), delay=\S+, delays=\S+, "
    r"dsn=(?P<dsn>\S+), status=(?P<status>\w+) \((?P<text>.*)\)$"
)


def oracle_sections() -> dict[str, dict[str, list[tuple[str, ...]]]]:
    """section → top-level recipient → its records, in log order."""
    sections: dict[str, dict[str, list[tuple[str, ...]]]] = {}
    current: dict[str, list[tuple[str, ...]]] = {}
    for line in ORACLE_LOG.read_text().splitlines():
        if line.startswith("["):
            current = sections.setdefault(line[1 : line.index("]")], {})
        elif line.startswith("to="):
            match = _LINE.match(line)
            assert match, line
            top = match["orig"] or match["to"]
            current.setdefault(top, []).append(
                _record(match["to"], match["orig"], *match.group("relay", "dsn", "status", "text"))
            )
    return sections


def _record(to: str, orig: str | None, relay: str, dsn: str, status: str, text: str) -> tuple[str, ...]:
    """One log record with the parts that vary between runs made comparable."""
    return (
        to,
        orig if orig and orig != to else "",
        relay,
        dsn,
        status,
        re.sub(r"^forwarded as \S+$", "forwarded as QID", text),
    )


CASES = [(section, top) for section, tops in oracle_sections().items() for top in tops]


@pytest.mark.parametrize(("section", "recipient"), CASES, ids=[f"{s}:{r.split('@')[0]}" for s, r in CASES])
def test_local_logs_what_postfix_logged(tmp_path: Path, section: str, recipient: str) -> None:
    programs = ProgramRegistry({"/bin/true": Exit(0), "/bin/false": Exit(1), "/bin/cat": Cat()}, builtins=False)
    host = FakeHost(
        tmp_path, hostname="oracle.example", main_cf="recipient_delimiter = +\n" + MAIN_CF[section],
        aliases=ALIASES, users=("sys",), files=FILES, programs=programs,
    )  # fmt: skip
    content = LOOP_HEADERS + MESSAGE if section == "loops" else MESSAGE
    host.deliver(LocalAgent(host), recipient, content=content)
    ours = [_record(r["to"], r["orig_to"], r["relay"], r["dsn"], r["status"], r["text"]) for r in host.records()]
    assert ours == oracle_sections()[section][recipient]
