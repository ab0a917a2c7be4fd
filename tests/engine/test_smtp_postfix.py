"""Held against a real Postfix 3.7 smtpd (tests/postfix_oracle.py): the same commands get the same replies."""

from __future__ import annotations

import asyncio
import base64

import pytest

from mailsim.engine.hooks import SmtpSession
from mailsim.engine.server import ServerSettings
from mailsim.mail import reply as R
from mailsim.mail.reply import Reply
from tests.engine.smtp_support import RelayControl, converse, live_run
from tests.peers import require

pytestmark = [pytest.mark.live, pytest.mark.peer]
HOST = "mx.example.com"


class DovecotLike(RelayControl):
    """The oracle's SASL backend fails without a reason; Postfix then says "(reason unavailable)"."""

    async def auth(self, session: SmtpSession, mechanism: str, login: str, password: str) -> Reply:
        reply = await super().auth(session, mechanism, login, password)
        return reply if reply.code == 235 else R.auth_failed("(reason unavailable)")


def _plain(user: str, password: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


CONVERSATIONS: list[list[str | bytes]] = [
    [
        "FOO bar", "RCPT TO:<root@mx.example.com>", "DATA", "MAIL FROM:<a b>", "MAIL FROM:<>",
        "MAIL FROM:<x@example.net>", "RCPT TO:<bad", "RCPT TO:<>", "RCPT TO:<x@y.example> NOTIFY=BOGUS",
        "RCPT TO:<x@y.example> ORCPT=bad", "RCPT TO:<root@mx.example.com> FOO=bar", "RCPT TO:<x@far.example>",
        "DATA", "RSET extra", "NOOP", "VRFY root", "HELP", "EXPN root", "QUIT",
    ],
    [
        # Postfix keeps a refused SIZE= until RSET (the next MAIL without SIZE gets 552 too); we do not.
        "MAIL FROM:<a@b.example> SIZE=99999999", "RSET", "MAIL FROM:<a@b.example> SIZE=abc", "MAIL FROM:<a@b.example> RET=FOO",
        "MAIL FROM:<a@b.example> BODY=BAD", "MAIL FROM:<a@b.example> SMTPUTF8=x", "MAIL",
        "MAIL FROM:<a@b.example> RET=HDRS ENVID=x1 BODY=8BITMIME SMTPUTF8",
        "RCPT TO:<root@mx.example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Root@MX.example.com",
        "RSET", "STARTTLS", b"MAIL FROM:<\xe4@b.example>\r\n", "QUIT",
    ],
    ["AUTH", "AUTH FOO", _plain("alice", "wrong"), _plain("alice", "pw"), _plain("alice", "pw"), "QUIT"],
    ["MAIL FROM:<a@b.example>", _plain("alice", "pw"), "RCPT TO:<x@far.example>", "QUIT"],
]  # fmt: skip


def test_replies_match_a_real_postfix_smtpd() -> None:
    require("postfix")
    from tests.postfix_oracle import PostfixOracle

    main_cf = {
        "myhostname": HOST,
        "mynetworks": "10.9.9.0/24",
        "message_size_limit": "20000",
        "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    }
    ours = ServerSettings(
        HOST, banner=f"{HOST} ESMTP", data_size_limit=20000, auth_enabled=True,
        soft_error_limit=1000, hard_error_limit=1000, error_sleep_time=0, junk_command_limit=1000,
    )  # fmt: skip

    async def talk(port: int) -> list[list[str]]:
        return [await converse("127.0.0.1", port, ["EHLO client.example.net", *commands]) for commands in CONVERSATIONS]

    with PostfixOracle(main_cf, users={"alice": "pw"}) as postfix:
        theirs = asyncio.run(talk(postfix.port))
    mine = live_run(ours, DovecotLike({"alice": "pw"}, local=HOST), talk)
    for postfix_replies, our_replies in zip(theirs, mine, strict=True):
        del postfix_replies[1], our_replies[1]  # EHLO keyword lists differ on purpose (no ETRN, CHUNKING)
        assert our_replies == postfix_replies
