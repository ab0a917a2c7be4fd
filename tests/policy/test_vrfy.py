"""VRFY as Postfix 3.7's smtpd answers it: the address's syntax, the recipient tables, then 252 and the argument.

The pinned replies were read off a real Postfix 3.7.11 on loopback (tests/postfix_oracle.py) with the main.cf
and tables below; ``test_vrfy_replies_equal_a_real_postfix`` asks it again when Postfix is installed.
"""

from __future__ import annotations

import smtplib

import pytest

from mailsim.config.hostfacts import HostFacts
from mailsim.config.maincf import parse_main_cf
from mailsim.engine.esmtp import vrfy_address
from mailsim.mail import reply as R
from mailsim.policy.restrictions import PolicyWorld, SmtpdContext, SmtpdRestrictions
from tests.peers import require
from tests.policy.policy_helpers import Table
from tests.postfix_oracle import BASE_MAIN_CF, PostfixOracle

MAIN = {
    "mydestination": "$myhostname, localhost.$mydomain, localhost, example.com",
    "local_recipient_maps": "texthash:$config_directory/users",
    "virtual_alias_domains": "valias.example",
    "virtual_alias_maps": "texthash:$config_directory/valias",
    "relay_domains": "relay.example",
    "relay_recipient_maps": "texthash:$config_directory/relayok",
}
TABLES = {"users": "bob x\n", "valias": "ann@valias.example bob\n", "relayok": "ok@relay.example x\n"}
LOCAL = "Recipient address rejected: User unknown in local recipient table"
PINNED = {  # VRFY argument -> Postfix 3.7.11's reply
    "bob": "252 2.0.0 bob",
    "bob@example.com": "252 2.0.0 bob@example.com",
    "<bob@example.com>": "252 2.0.0 <bob@example.com>",
    "nobody@example.com": f"550 5.1.1 <nobody@example.com>: {LOCAL}",
    "nobody": f"550 5.1.1 <nobody>: {LOCAL}",
    "x@elsewhere.example": "252 2.0.0 x@elsewhere.example",
    "ann@valias.example": "252 2.0.0 ann@valias.example",
    "zz@valias.example": "550 5.1.1 <zz@valias.example>: Recipient address rejected: User unknown in virtual alias table",
    "ok@relay.example": "252 2.0.0 ok@relay.example",
    "no@relay.example": "550 5.1.1 <no@relay.example>: Recipient address rejected: User unknown in relay recipient table",
    "": "501 5.5.4 Syntax: VRFY address [SMTPUTF8]",
    "bob@example.com extra": "501 5.1.3 Bad recipient address syntax",
    "<>": "501 5.1.3 Bad recipient address syntax",
    "Bob Smith <bob@example.com>": "252 2.0.0 Bob Smith <bob@example.com>",
}  # fmt: skip


def mailsim_reply(arg: str) -> str:
    """What mailsim's smtpd answers: the engine's argument rules (server.smtp_VRFY), then the hook's tables."""
    if not arg:
        return str(R.syntax("VRFY address [SMTPUTF8]"))
    address = vrfy_address(arg)
    if address is None:
        return str(R.BAD_RECIPIENT_SYNTAX)
    text = "".join(f"{key} = {value}\n" for key, value in {**BASE_MAIN_CF, **MAIN}.items())
    tables = {f"texthash:/etc/postfix/{name}": Table(body) for name, body in TABLES.items()}
    policy = SmtpdRestrictions.from_main(parse_main_cf(text, host=HostFacts("mx.example.com")), tables, PolicyWorld())
    refused = policy.verify(SmtpdContext("127.0.0.1", "localhost", helo_name="client.example"), address)
    return str(refused) if refused is not None else str(R.cannot_verify(arg))


@pytest.mark.parametrize("arg", list(PINNED))
def test_vrfy_answers_as_postfix_did(arg: str) -> None:
    assert mailsim_reply(arg) == PINNED[arg]


def test_vrfy_runs_no_restriction_list() -> None:
    """smtpd_check_rcptmap only: an address the relay restrictions would refuse still gets 252."""
    assert mailsim_reply("x@elsewhere.example").startswith("252 ")


@pytest.mark.peer
def test_vrfy_replies_equal_a_real_postfix() -> None:
    require("postfix")
    with PostfixOracle(MAIN, tables=TABLES) as postfix:
        client = smtplib.SMTP("127.0.0.1", postfix.port, timeout=30)
        client.ehlo("client.example")
        seen = {}
        for arg in PINNED:
            code, text = client.docmd("VRFY", arg) if arg else client.docmd("VRFY")
            seen[arg] = f"{code} {text.decode()}"
        client.quit()
    assert seen == PINNED
    assert {arg: mailsim_reply(arg) for arg in PINNED} == seen
