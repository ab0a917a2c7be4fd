"""A throwaway real Postfix to compare mailsim's smtpd verdicts with (DESIGN.md §8).

``PostfixOracle`` writes its own config_directory and queue_directory under a temporary folder, runs smtpd on
a free high 127.0.0.1 port (master.cf) plus one more smtpd per named *service* whose ``-o`` overrides give it
its own restrictions (so one instance answers for many configurations), starts it with ``postfix -c DIR
start`` and aborts it on exit, waiting (bounded) for its master to be gone. It only asks questions that stop
before DATA (EHLO, optional AUTH, MAIL FROM, RCPT TO, RSET, QUIT), so nothing is ever queued or delivered.
SASL is answered by a tiny Dovecot-auth-protocol server on a loopback TCP port (``users=``), so
``permit_sasl_authenticated`` can be compared too. A configuration smtpd refuses to run with shows up as
:meth:`PostfixOracle.refused` (its ``fatal:`` log line).

Commands are sent raw with ``docmd``: smtplib's own ``rcpt()`` runs addresses through ``email.utils.parseaddr``,
which turns the source route ``<@a:u@b>`` into ``<@a>`` and would spoil the relay battery.

Foreign client versus trusted client: the oracle always connects from 127.0.0.1 (named ``localhost``), so a
test sets ``mynetworks`` to exclude (``10.9.9.0/24``) or include (``127.0.0.0/8``) it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
START_TIMEOUT = 15.0
DISCONNECTED = 0

BASE_MAIN_CF = {
    "compatibility_level": "3.6",
    "inet_interfaces": "127.0.0.1",
    "inet_protocols": "ipv4",
    "myhostname": "mx.example.com",
    "mydomain": "example.com",
    "alias_maps": "",
    "alias_database": "",
    "smtpd_banner": "$myhostname ESMTP",
    "biff": "no",
    "smtpd_error_sleep_time": "0",
    "smtpd_soft_error_limit": "1000",
    "smtpd_hard_error_limit": "1000",
    "smtpd_junk_command_limit": "1000",
    "smtpd_client_connection_count_limit": "0",
    "disable_dns_lookups": "yes",
    "smtp_host_lookup": "native",
}

MASTER_CF = """\
{listeners}cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
smtp      unix  - - n - - smtp
local     unix  - n n - - local
virtual   unix  - n n - - virtual
"""


@dataclass(frozen=True, slots=True)
class OracleReply:
    """One SMTP reply as real Postfix gave it: code and text (the text starts with the enhanced status)."""

    code: int
    text: str

    @property
    def line(self) -> str:
        return f"{self.code} {self.text}"


def _local_delivery(root: Path) -> dict[str, str]:
    """What an instance needs to expand aliases itself (sendmail -bv): its own spool, nothing remote."""
    return {
        "alias_maps": "hash:$config_directory/aliases",
        "alias_database": "hash:$config_directory/aliases",
        "mail_spool_directory": str(root / "mail"),
        "default_transport": "error:remote delivery disabled in the oracle",
        "relay_transport": "error:remote delivery disabled in the oracle",
    }


def _report_lines(report: str) -> list[tuple[str, str]]:
    """The human-readable part of a delivery status report: (recipient, local(8)'s words)."""
    body = report.split("Content-Description: Delivery report")[0]
    joined = re.sub(r"\n {4}", " ", body)
    found = []
    for match in re.finditer(r"^<([^>]*)>(?: \(expanded from <[^>]*>\))?: delivery via local: (.*)$", joined, re.M):
        found.append((match.group(1), match.group(2).strip()))
    return found


def _alive(pid: int) -> bool:
    """Whether a process runs (not merely a zombie waiting for its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _DovecotAuth:
    """Just enough of Dovecot's auth protocol (version 1) for Postfix's ``smtpd_sasl_type = dovecot``."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\t" + b"0" * 32 + b"\nDONE\n")
            stream.flush()
            for raw in stream:
                fields = raw.decode().rstrip("\n").split("\t")
                if fields[0] == "AUTH":
                    stream.write(self._auth(fields).encode())
                    stream.flush()

    def _auth(self, fields: list[str]) -> str:
        ident = fields[1]
        resp = next((f[5:] for f in fields if f.startswith("resp=")), None)
        if resp is None:
            return f"FAIL\t{ident}\treason=initial response required\n"
        _, user, password = base64.b64decode(resp).decode().split("\0")
        if self.users.get(user) == password:
            return f"OK\t{ident}\tuser={user}\n"
        return f"FAIL\t{ident}\tuser={user}\n"

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


class PostfixRefused(RuntimeError):
    """Postfix would not serve with this configuration (a ``fatal:`` line in its log)."""


class PostfixOracle:
    """A running real Postfix smtpd on 127.0.0.1 with the given main.cf settings and table files."""

    def __init__(
        self,
        main_cf: Mapping[str, str] | None = None,
        tables: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        services: Mapping[str, Mapping[str, str]] | None = None,
        aliases: str | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.main_cf = {**BASE_MAIN_CF, **(main_cf or {})}
        self.tables = dict(tables or {})
        self.users = dict(users or {})
        self.services = {name: dict(overrides) for name, overrides in (services or {}).items()}
        self.aliases = aliases
        self.files = dict(files or {})
        self.ports: dict[str, int] = {}
        self.alive: dict[str | None, bool] = {}
        self.port = 0
        self.root: Path | None = None
        self.auth: _DovecotAuth | None = None

    # -- life cycle -------------------------------------------------------------------------------------------------

    def __enter__(self) -> PostfixOracle:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the instance and start it; waits (bounded) until smtpd answers."""
        self.root = Path(tempfile.mkdtemp(prefix="mailsim-pf-"))
        os.chmod(self.root, 0o755)
        self.port = _free_port()
        self.ports = {name: _free_port() for name in self.services}
        if self.users:
            self.auth = _DovecotAuth(self.users)
        self._write_instance()
        result = subprocess.run(
            [POSTFIX, "-c", str(self.root / "etc"), "start"], capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            log = self.maillog()
            self.stop()
            raise RuntimeError(f"postfix start failed: {result.stderr}\n{log}")
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _write_instance(self) -> None:
        assert self.root is not None
        etc, spool, data = self.root / "etc", self.root / "spool", self.root / "data"
        for folder in (etc, spool, data):
            folder.mkdir()
        shutil.chown(data, "postfix")
        params = {
            **self.main_cf,
            "queue_directory": str(spool),
            "data_directory": str(data),
            "maillog_file": str(self.root / "maillog"),
            "maillog_file_prefixes": str(self.root),
        }
        if self.aliases is not None:
            params |= _local_delivery(self.root)
        if self.auth is not None:
            params |= {
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_sasl_type": "dovecot",
                "smtpd_sasl_path": f"inet:127.0.0.1:{self.auth.port}",
            }
        (etc / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in params.items()))
        master = MASTER_CF.format(listeners=self._listeners())
        if self.aliases is not None:
            master += "pickup unix n - n 60 1 pickup\n"
            self._write_local_files(etc)
        (etc / "master.cf").write_text(master)
        for name, text in self.tables.items():
            (etc / name).write_text(text)
        for path in etc.iterdir():
            os.utime(path, (946684800, 946684800))  # back-dated: Postfix waits ~2 s on a fresh main.cf

    def _write_local_files(self, etc: Path) -> None:
        """aliases (compiled with postalias, as newaliases would) and the files they include."""
        assert self.root is not None and self.aliases is not None
        spool = self.root / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        for name, text in self.files.items():
            (self.root / name).write_text(text.replace("$ROOT", str(self.root)))
        (etc / "aliases").write_text(self.aliases.replace("$ROOT", str(self.root)))
        subprocess.run(["/usr/sbin/postalias", "-c", str(etc), str(etc / "aliases")], check=True, timeout=30)

    def verify(self, address: str, sender: str = "root@mx.example.com") -> list[tuple[str, str]]:
        """``sendmail -bv``: local(8)'s trace-only expansion of an address, from the report it mails back.

        Nothing is delivered except that report (to root's mbox inside the instance). Each entry is
        (final recipient, what local(8) says about it), e.g. ("root@x", "delivers to mailbox").
        """
        assert self.root is not None
        mbox = self.root / "mail" / "root"
        before = ("\n" + mbox.read_text()).count("\nFrom ") if mbox.exists() else 0
        command = ["/usr/sbin/sendmail", "-C", str(self.root / "etc"), "-bv", "-f", sender, address]
        subprocess.run(command, capture_output=True, timeout=30, check=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = ("\n" + mbox.read_text()) if mbox.exists() else ""
            if text.count("\nFrom ") > before:
                return _report_lines(text.split("\nFrom ")[-1])
            time.sleep(0.05)
        raise RuntimeError(f"no sendmail -bv report for {address}\n{self.maillog()}")

    def _listeners(self) -> str:
        """The default smtpd, plus one smtpd per named service with its ``-o { name = value }`` overrides."""
        lines = [f"127.0.0.1:{self.port} inet n - n - - smtpd\n"]
        for name, overrides in self.services.items():
            lines.append(f"127.0.0.1:{self.ports[name]} inet n - n - - smtpd\n")
            lines.append(f"  -o syslog_name=postfix/{name}\n")
            lines.extend(f"  -o {{ {key} = {value} }}\n" for key, value in overrides.items())
        return "".join(lines)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "fatal:" in self.maillog():
                raise PostfixRefused(self._fatal())
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                if sock.recv(512)[:3].isdigit():
                    return  # smtpd answers (220, or a client reject when smtpd_delay_reject = no)
            time.sleep(0.1)
        raise RuntimeError(f"postfix smtpd did not answer within {START_TIMEOUT}s\n{self.maillog()}")

    def stop(self) -> None:
        """Stop the instance (bounded) and remove its folder."""
        if self.root is None:
            return
        etc = str(self.root / "etc")
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([POSTFIX, "-c", etc, "abort"], capture_output=True, timeout=30)
        self._wait_master_gone()
        if self.auth is not None:
            self.auth.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def _wait_master_gone(self) -> None:
        """Bounded wait until our own master (by the pid it wrote) is dead; a zombie counts as dead."""
        assert self.root is not None
        pid_file = self.root / "spool" / "pid" / "master.pid"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if not _alive(int(pid_file.read_text().strip())):
                    return
            except (OSError, ValueError):
                return
            time.sleep(0.02)

    def refused(self, service: str | None = None) -> str | None:
        """The ``fatal:`` text when smtpd (of a named service) would not run with its configuration."""
        tag = f"postfix/{service}/smtpd[" if service else "postfix/smtpd["
        for text in self.maillog().splitlines():
            if tag in text and "fatal: " in text:
                return text.split("fatal: ", 1)[1]
        return None

    def _fatal(self) -> str:
        lines = [line for line in self.maillog().splitlines() if "fatal:" in line]
        return lines[0].split("fatal: ", 1)[1] if lines else ""

    def maillog(self) -> str:
        """What the instance logged (useful when a comparison fails)."""
        if self.root is None or not (self.root / "maillog").exists():
            return ""
        return (self.root / "maillog").read_text()

    # -- questions --------------------------------------------------------------------------------------------------

    def _greets(self, service: str | None) -> bool:
        """Once per service: does its smtpd answer at all, or die on its configuration (a fatal: line)?"""
        if service not in self.alive:
            port = self.ports[service] if service is not None else self.port
            self.alive[service] = self._answers(port, service)
        return self.alive[service]

    def _answers(self, port: int, service: str | None) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        with socket.create_connection(("127.0.0.1", port), timeout=0.1) as sock:
            while time.monotonic() < deadline:
                try:
                    return bool(sock.recv(512))
                except TimeoutError:
                    if self.refused(service):
                        return False
        return False

    def _open(self, helo: str, auth: tuple[str, str] | None, service: str | None = None) -> smtplib.SMTP:
        port = self.ports[service] if service is not None else self.port
        smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=20)
        try:
            smtp.ehlo(helo)
            if auth is not None:
                smtp.login(*auth)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def session(
        self,
        recipients: Sequence[str],
        sender: str = "someone@example.net",
        helo: str = "client.example.net",
        auth: tuple[str, str] | None = None,
        service: str | None = None,
    ) -> tuple[OracleReply, list[OracleReply]]:
        """The MAIL FROM reply and one reply per RCPT TO; addresses go on the wire exactly as given.

        When smtpd refuses the client in its greeting (smtpd_delay_reject = no), that reply stands for all.
        """
        if not self._greets(service):
            gone = OracleReply(DISCONNECTED, f"smtpd refused to run: {self.refused(service)}")
            return gone, [gone for _ in recipients]
        try:
            smtp = self._open(helo, auth, service)
        except smtplib.SMTPConnectError as refused:
            greeting = OracleReply(refused.smtp_code, refused.smtp_error.decode("utf-8", "replace"))
            return greeting, [greeting for _ in recipients]
        except smtplib.SMTPServerDisconnected:
            gone = OracleReply(DISCONNECTED, "connection closed by Postfix (see the maillog)")
            return gone, [gone for _ in recipients]
        rcpts: list[OracleReply] = []
        try:
            mail = _ask(smtp, f"MAIL FROM:<{sender}>")
            for rcpt in recipients:
                rcpts.append(_ask(smtp, f"RCPT TO:<{rcpt}>"))
                if rcpts[-1].code == DISCONNECTED:
                    rcpts.extend(rcpts[-1] for _ in recipients[len(rcpts) :])
                    break
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.rset()
                smtp.quit()
            smtp.close()
        return mail, rcpts

    def rcpt(self, recipient: str, **kwargs: object) -> OracleReply:
        """The reply to one RCPT TO, in a session of its own (a 421/521 reply ends a session).

        A ``451 4.3.0`` (Postfix's own temporary lookup failure, e.g. proxymap still starting) is asked again
        once: it says something about the instance, not about the configuration under test.
        """
        reply = self.session([recipient], **kwargs)[1][0]  # type: ignore[arg-type]
        if reply.code == 451 and reply.text.startswith("4.3.0"):
            time.sleep(0.2)
            reply = self.session([recipient], **kwargs)[1][0]  # type: ignore[arg-type]
        return reply

    def each(self, recipients: Sequence[str], **kwargs: object) -> list[OracleReply]:
        """One session per recipient: replies that do not depend on what came before in the session."""
        return [self.rcpt(recipient, **kwargs) for recipient in recipients]


def _ask(smtp: smtplib.SMTP, command: str) -> OracleReply:
    """One command's reply; a dropped connection (smtpd died on a fatal error) becomes code 0."""
    try:
        code, text = smtp.docmd(command)
    except smtplib.SMTPServerDisconnected:
        return OracleReply(DISCONNECTED, "connection closed by Postfix (see the maillog)")
    return OracleReply(code, text.decode("utf-8", "replace").replace("\n", " "))
