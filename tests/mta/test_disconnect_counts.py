"""smtpd's "disconnect from" command counts are Postfix 3.7's: ``name=ok/total`` per command, in smtpd's order.

The expected counts were recorded from a real Postfix 3.7.11 smtpd (Debian package) on 127.0.0.1, driven with
exactly the raw commands below through tests/postfix_oracle.py (its BASE_MAIN_CF plus MAIN_CF, one smtpd per
service with the overrides in SERVICES, a self-signed certificate and tlsmgr added to master.cf), reading the
"disconnect from" lines of its maillog. ``test_the_recorded_counts_are_a_live_postfix_smtpd_s`` records them
again when postfix is installed. mailsim answers the same commands with its engine and the counts its smtpd
logs (:func:`mailsim.mta.smtpd.command_stats`); clients it can also run in the fast fidelity must give the
same counts there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import smtplib
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailsim.engine.client import Credentials, StartTls, deliver
from mailsim.engine.fidelity import session
from mailsim.engine.hooks import SmtpSession
from mailsim.engine.server import ServerSettings
from mailsim.engine.tls import TlsAuthority
from mailsim.mail.reply import Reply, too_many_connections
from mailsim.mta.smtpd import command_stats
from tests.engine.smtp_support import HOST, RelayControl, converse, plan, run_client, world_with_server
from tests.net.worlds import SERVER_IP
from tests.peers import require

ORACLE_HOST = "mx.example.com"
AUTHORITY = TlsAuthority()
MAIN_CF = {
    "myhostname": ORACLE_HOST,
    "mynetworks": "10.9.9.0/24",
    "message_size_limit": "20000",
    "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    "default_transport": "discard:",
    "local_transport": "discard:",
    "relay_transport": "discard:",
}
SERVICES = {
    "enc": {"smtpd_tls_security_level": "encrypt"},
    "hard": {"smtpd_hard_error_limit": "2"},
}
BODY = b"Subject: x\r\n\r\nhi\r\n.\r\n"
BIG = b"Subject: x\r\n\r\n" + (b"z" * 998 + b"\r\n") * 30 + b".\r\n"  # over message_size_limit = 20000
BAD_UTF8 = b"MAIL FROM:<\xe4@b.example>\r\n"


def _plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


EHLO, MAIL = "EHLO client.example.net", "MAIL FROM:<a@example.net>"
LOCAL, FOREIGN = "RCPT TO:<root@mx.example.com>", "RCPT TO:<x@far.example>"
# name → (service, commands after the greeting, the counts of real Postfix's "disconnect from" line)
SESSIONS: dict[str, tuple[str | None, list[str | bytes], str]] = {
    "clean": (None, [EHLO, MAIL, LOCAL, "DATA", BODY, "QUIT"], "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"),
    "rejected-rcpt": (None, [EHLO, MAIL, FOREIGN, "DATA", "QUIT"], "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5"),
    "unknown": (None, [EHLO, "FOO bar", "HELP", "EXPN root", "QUIT"], "ehlo=1 quit=1 unknown=0/3 commands=2/5"),
    "noop-rset-vrfy": (None, ["HELO client.example.net", "NOOP", "RSET", "VRFY root", "ETRN example.net", "NOOP", "QUIT"],
                       "helo=1 rset=1 noop=2 vrfy=1 etrn=0/1 quit=1 commands=6/7"),
    "no-quit": (None, [EHLO, MAIL], "ehlo=1 mail=1 commands=2"),
    "no-command": (None, [], "commands=0/0"),
    "not-counted": (None, [EHLO, "", "MAIL", "MAIL FROM:<a b>", "RCPT TO:<x@y>", BAD_UTF8, "HELO", "QUIT x"],
                    "helo=0/1 ehlo=1 mail=0/2 rcpt=0/1 quit=1 commands=2/6"),
    "auth": (None, [EHLO, "AUTH", _plain("alice", "wrong"), _plain("alice", "pw"), _plain("alice", "pw"), "STARTTLS", "QUIT"],
             "ehlo=1 starttls=0/1 auth=1/4 quit=1 commands=3/7"),
    "data-refused": (None, [EHLO, MAIL, LOCAL, "DATA", BIG, "RSET", "QUIT"],
                     "ehlo=1 mail=1 rcpt=1 data=0/1 rset=1 quit=1 commands=5/6"),
    "table-order": (None, ["NOOP", "ETRN x", "VRFY root", "RSET", "BDAT 0 LAST", "DATA", "RCPT TO:<a@b.example>",
                           "MAIL FROM:<a@b.example>", "AUTH PLAIN", "STARTTLS", "XFORWARD NAME=x", "XCLIENT NAME=x",
                           EHLO, "HELO c.example.net", "FOO", "QUIT"],
                    "helo=1 ehlo=1 xclient=0/1 xforward=0/1 starttls=0/1 auth=0/1 mail=1 rcpt=0/1 data=0/1 bdat=0/1 "
                    "rset=1 noop=1 vrfy=1 etrn=0/1 quit=1 unknown=0/1 commands=7/16"),
    "starttls-first": ("enc", [EHLO, MAIL, "NOOP", "VRFY root", "FOO", "RSET", "AUTH PLAIN", "HELO x", "QUIT"],
                       "helo=1 ehlo=1 auth=0/1 mail=0/1 rset=0/1 noop=1 vrfy=0/1 quit=1 unknown=0/1 commands=4/9"),
    "hard-error-limit": ("hard", [EHLO, "FOO", "BAR", "NOOP"], "ehlo=1 unknown=0/2 commands=1/3"),
}  # fmt: skip
# EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT (smtplib against Postfix, our client against mailsim)
TLS_AUTH = "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8"


class Counting(RelayControl):
    """Our engine's hooks that keep the counts mailsim's smtpd logs at disconnect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[str] = []

    async def disconnect(self, session: SmtpSession) -> None:
        self.lines.append(command_stats(session.commands))


def _settings(service: str | None) -> ServerSettings:
    tls = AUTHORITY.server_context(ORACLE_HOST)
    return ServerSettings(
        ORACLE_HOST, banner=f"{ORACLE_HOST} ESMTP", data_size_limit=20000, auth_enabled=True,
        soft_error_limit=1000, hard_error_limit=2 if service == "hard" else 1000, error_sleep_time=0,
        junk_command_limit=1000, tls_context=tls if service == "enc" else None, require_starttls=service == "enc",
    )  # fmt: skip


def _ours(service: str | None, commands: list[str | bytes]) -> str:
    hooks = Counting({"alice": "pw"}, local=ORACLE_HOST)
    world, _ = world_with_server(_settings(service), hooks)
    run_client(world, converse(SERVER_IP, 25, commands))
    run_client(world, asyncio.sleep(5))  # the disconnect hook runs after the connection is gone
    assert len(hooks.lines) == 1
    return hooks.lines[0]


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_counts_are_postfix_s(name: str) -> None:
    service, commands, expected = SESSIONS[name]
    assert _ours(service, commands) == expected


def _client_session(fidelity: str, **client: Any) -> str:
    server = client.pop("server", {})
    hooks = Counting({"alice": "secret"})
    world, _ = world_with_server(ServerSettings(HOST, **server), hooks)
    the_plan = plan(client.pop("recipients", ("bob@" + HOST,)), **client)
    if fidelity == "wire":
        run_client(world, deliver(the_plan, record=False))
    else:
        run_client(world, session(the_plan, fidelity="fast", host="client"))
    run_client(world, asyncio.sleep(5))
    assert len(hooks.lines) == 1
    return hooks.lines[0]


TLS_CLIENT = {"starttls": StartTls.MAY, "tls_context": AUTHORITY.client_context(verify=True), "server_name": HOST}
TLS_SERVER = {"tls_context": AUTHORITY.server_context(HOST), "auth_enabled": True}
# Our client in both fidelities; "plain" and "starttls-auth" are sessions recorded above (the clean one and
# TLS_AUTH), the other two follow the same rules (a refused AUTH LOGIN is one command, 334 and all).
CLIENTS: dict[str, tuple[dict[str, Any], str]] = {
    "plain": ({}, "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"),
    "starttls-auth": ({**TLS_CLIENT, "server": TLS_SERVER, "credentials": Credentials("alice", "secret")}, TLS_AUTH),
    "auth-login-refused": ({**TLS_CLIENT, "server": TLS_SERVER, "credentials": Credentials("alice", "no", "LOGIN")},
                           "ehlo=2 starttls=1 auth=0/1 quit=1 commands=4/5"),
    "some-rcpt-refused": ({"recipients": ["x@far.example", "bob@" + HOST]},
                          "ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_both_fidelities_log_the_same_counts(name: str) -> None:
    client, expected = CLIENTS[name]
    assert _client_session("wire", **dict(client)) == expected
    assert _client_session("fast", **dict(client)) == expected


def test_a_refused_connection_logs_no_command() -> None:
    class Refusing(Counting):
        async def connect(self, session: SmtpSession) -> Reply | None:
            return too_many_connections(HOST, session.peer_ip)

    hooks = Refusing()
    world, _ = world_with_server(ServerSettings(HOST), hooks)
    run_client(world, converse(SERVER_IP, 25, [EHLO]))
    run_client(world, asyncio.sleep(5))
    assert hooks.lines == ["commands=0/0"]


# -- the recording, repeated against a live Postfix ----------------------------------------------------------------


def _certificate(folder: Path) -> tuple[str, str]:
    """A self-signed certificate and key for the oracle's smtpd (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ORACLE_HOST)])
    start = datetime(2000, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(start).not_valid_after(start + timedelta(days=36500))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def _disconnects(oracle: Any, count: int) -> list[str]:
    """The counts of the first ``count`` "disconnect from" lines (smtpd writes each just after the hang-up)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in oracle.maillog().splitlines() if " disconnect from " in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return [line.split(" disconnect from ", 1)[1].split(" ", 1)[1] for line in lines]
        time.sleep(0.05)


def _tls_auth_session(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net", timeout=20) as smtp:
        smtp.ehlo()
        smtp.starttls(context=ssl._create_unverified_context())  # noqa: SLF001 - a self-signed test certificate
        smtp.ehlo()
        smtp.login("alice", "pw")
        smtp.sendmail("a@example.net", ["root@mx.example.com"], b"Subject: x\r\n\r\nhi\r\n")


@pytest.mark.live
@pytest.mark.peer
def test_the_recorded_counts_are_a_live_postfix_smtpd_s(tmp_path: Path) -> None:
    require("postfix")
    from tests.postfix_oracle import PostfixOracle

    class TlsOracle(PostfixOracle):
        """The oracle with tlsmgr(8), which smtpd needs for STARTTLS."""

        def _write_instance(self) -> None:
            super()._write_instance()
            assert self.root is not None
            master = self.root / "etc" / "master.cf"
            master.write_text(master.read_text() + "tlsmgr unix - - n 1000? 1 tlsmgr\n")
            os.utime(master, (946684800, 946684800))

    cert, key = _certificate(tmp_path)
    tls = {"smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key, "smtpd_tls_security_level": "may"}
    services = {"tls": tls, "enc": {**tls, **SERVICES["enc"]}, "hard": SERVICES["hard"]}
    expected = [SESSIONS[name][2] for name in SESSIONS] + [TLS_AUTH]
    with TlsOracle(MAIN_CF, users={"alice": "pw"}, services=services) as postfix:
        done = len(_disconnects(postfix, 1))  # the oracle's own readiness probe
        for service, commands, _ in SESSIONS.values():
            port = postfix.ports[service] if service else postfix.port
            with contextlib.suppress(OSError):  # smtpd hung up first (the hard error limit)
                asyncio.run(converse("127.0.0.1", port, commands))
            done = len(_disconnects(postfix, done + 1))  # one at a time: each service logs on its own
        _tls_auth_session(postfix.ports["tls"])
        seen = _disconnects(postfix, done + 1)[-len(expected) :]
    assert seen == expected


# smtpd_delay_reject = no, smtpd_client_restrictions = reject: what a real Postfix 3.7.11 answered on 127.0.0.1
# (tests/postfix_oracle.py with those two settings) to these commands, and the counts it logged.
DENIED = "503 5.7.0 Error: access denied for localhost[127.0.0.1]"
REFUSED_AT_CONNECT = [
    ("EHLO client.example", DENIED), ("HELO client.example", DENIED), ("MAIL FROM:<a@b.example>", DENIED),
    ("RCPT TO:<x@mx.example.com>", DENIED), ("NOOP", DENIED), ("RSET", DENIED), ("VRFY root", DENIED),
    ("STARTTLS", DENIED), ("AUTH PLAIN AGFiYwBkZWY=", DENIED), ("DATA", DENIED), ("FOO", DENIED),
    ("QUIT", "221 2.0.0 Bye\n<EOF>"),  # and the server hangs up
]  # fmt: skip
REFUSED_COUNTS = ("helo=0/1 ehlo=0/1 starttls=0/1 auth=0/1 mail=0/1 rcpt=0/1 data=0/1 rset=0/1 noop=0/1 vrfy=0/1 "
                  "quit=1 unknown=0/1 commands=1/12")  # fmt: skip


def test_a_client_refused_at_connect_is_denied_every_command_but_quit() -> None:
    """Not a 421: the refusal is the greeting and the session goes on, every command but QUIT refused with 503."""

    class Refusing(Counting):
        async def connect(self, session: SmtpSession) -> Reply | None:
            return Reply(554, "5.7.1", "<localhost[127.0.0.1]>: Client host rejected: Access denied")

        async def denied(self, session: SmtpSession) -> Reply:
            return Reply(503, "5.7.0", "Error: access denied for localhost[127.0.0.1]")

    hooks = Refusing({"alice": "pw"}, local=ORACLE_HOST)
    world, _ = world_with_server(_settings(None), hooks)
    replies = run_client(world, converse(SERVER_IP, 25, [command for command, _ in REFUSED_AT_CONNECT]))
    run_client(world, asyncio.sleep(5))
    assert replies[0] == "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied"
    assert list(zip([c for c, _ in REFUSED_AT_CONNECT], replies[1:], strict=True)) == REFUSED_AT_CONNECT
    assert hooks.lines == [REFUSED_COUNTS]
