"""Milter lists as Postfix runs them: sockets, order, edits, default actions, hold, and their time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailsim.core.errors import ConfigError
from mailsim.mail.reply import Reply
from mailsim.mta.milters.base import MilterAction, MilterMessage, MilterVerdict
from mailsim.mta.milters.chain import MilterChain, parse_milter_list
from mailsim.mta.milters.conf import endpoint, same_endpoint
from tests.mta.milter_worlds import conf, mailbox_messages, message, records, run, world

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass
class Fake:
    """A milter that answers a fixed verdict and remembers what it saw."""

    name: str
    verdict: MilterVerdict = field(default_factory=MilterVerdict)
    seen: list[bytes] = field(default_factory=list)

    def cost(self, size: int) -> float:
        return 0.5

    def end_of_message(self, message: MilterMessage) -> MilterVerdict:
        self.seen.append(message.content)
        return self.verdict


class Host:
    """Just enough of a MailHost for a chain: a name and a trace."""

    def __init__(self) -> None:
        from mailsim.core.simulation import Simulation

        self.name = "mx.example.net"
        self.sim = Simulation(1)


def chain(*milters: Fake | None, sockets: list[str] | None = None, default: str = "tempfail") -> MilterChain:
    specs = parse_milter_list(", ".join(sockets or [f"inet:localhost:{9000 + i}" for i in range(len(milters))]),
                              default, key="smtpd_milters")  # fmt: skip
    return MilterChain(Host(), list(zip(specs, milters, strict=True)), "smtpd_milters")


def test_postfix_and_libmilter_name_the_same_socket_differently() -> None:
    assert same_endpoint(endpoint("inet:localhost:8891"), endpoint("inet:8891@localhost"))
    assert same_endpoint(endpoint("inet:127.0.0.1:8891"), endpoint("inet:8891@127.0.0.1"))
    assert same_endpoint(endpoint("unix:/clamav/clamav-milter.ctl"),
                         endpoint("/var/spool/postfix/clamav/clamav-milter.ctl"))  # fmt: skip
    assert not same_endpoint(endpoint("inet:localhost:8891"), endpoint("inet:8892@localhost"))
    assert endpoint("inet:10.1.2.3:8891") is None  # a milter on another machine is not reachable here


def test_later_milters_see_the_edits_of_earlier_ones() -> None:
    first = Fake("first", MilterVerdict(headers=("X-First: 1",), body=b"new body\r\n"))
    second = Fake("second")
    result = chain(first, second).run(message())
    assert second.seen[0].startswith(b"X-First: 1\r\n")
    assert second.seen[0].endswith(b"\r\n\r\nnew body\r\n")
    assert result.content == second.seen[0]


def test_a_reject_ends_the_list_with_its_reply() -> None:
    refusing = Fake("refusing", MilterVerdict(MilterAction.REJECT, Reply(550, "5.7.1", "no thanks")))
    never = Fake("never")
    result = chain(refusing, never).run(message())
    assert result.reply == Reply(550, "5.7.1", "no thanks") and never.seen == []
    bare = chain(Fake("bare", MilterVerdict(MilterAction.REJECT))).run(message())
    assert str(bare.reply) == "550 5.7.1 Command rejected"


def test_accept_skips_the_rest_and_quarantine_holds_but_goes_on() -> None:
    assert chain(Fake("a", MilterVerdict(MilterAction.ACCEPT)), later := Fake("b")).run(message()).reply is None
    assert later.seen == []
    held = chain(Fake("q", MilterVerdict(MilterAction.QUARANTINE, reason="suspect")), after := Fake("c"))
    assert held.run(message()).hold == "suspect" and len(after.seen) == 1


def test_a_listed_milter_nobody_answers_gets_milter_default_action() -> None:
    assert str(chain(None).run(message()).reply) == "451 4.7.1 Service unavailable - try again later"
    lenient = chain(None, seen := Fake("next"), sockets=["{ inet:localhost:9999, default_action=accept }",
                                                         "inet:localhost:9000"])  # fmt: skip
    assert lenient.run(message()).reply is None and len(seen.seen) == 1
    with pytest.raises(ConfigError, match="default_action"):
        parse_milter_list("{ inet:localhost:1, default_action=maybe }", "tempfail", key="smtpd_milters")


def test_each_milter_answer_is_a_trace_record() -> None:
    milters = chain(Fake("opendkim", MilterVerdict(headers=("Authentication-Results: x; dkim=pass",),
                                                   results=(("dkim", "pass"),))))  # fmt: skip
    milters.run(message())
    (record,) = milters.host.sim.trace.select("milter")
    assert record.service == "opendkim" and record.get("dkim") == "pass"
    assert record.get("added") == ["Authentication-Results"] and record.message_id == "lunch.1@example.org"
    assert milters.cost(1000) == 0.5


def test_a_daemon_configuration_error_names_file_line_and_option() -> None:
    from mailsim.mta.milters.opendkim import OpenDkim
    from tests.mta.milter_worlds import context

    with pytest.raises(ConfigError) as error:
        OpenDkim(context(), conf("Mode v\nSocket inet:8891@localhost\nSigningTabel refile:/x\n", "opendkim.conf"))
    assert str(error.value).startswith("opendkim.conf:3: SigningTabel: unknown option: expected one of")
    with pytest.raises(ConfigError, match="opendkim.conf:1: Mode: expected s, v or sv, found x"):
        OpenDkim(context(), conf("Mode x\n", "opendkim.conf"))


def test_a_listed_milter_without_its_daemon_defers_the_mail(tmp_path: Path) -> None:
    spec = world(tmp_path, receiver={"main.cf": "smtpd_milters = inet:localhost:8891\n"}, until="2m")
    result = run(spec)
    (delivery,) = records(result, "delivery", host="mail.example.org", service="smtp")
    assert delivery.get("status") == "deferred"
    assert "451 4.7.1 Service unavailable - try again later" in delivery.get("text")
    texts = [r.get("text") for r in records(result, "action", host="mx.example.net")]
    assert texts[0] == "warning: connect to Milter service inet:localhost:8891: Connection refused"
    assert texts[1].startswith("milter-reject: END-OF-MESSAGE from mail.example.org[192.0.2.10]: 4.7.1 Service")


def test_a_quarantine_puts_the_message_in_the_hold_queue(tmp_path: Path) -> None:
    clamav = "MilterSocket inet:7357@localhost\nOnInfected Quarantine\n"
    spec = world(tmp_path, body=EICAR, receiver={"main.cf": "smtpd_milters = inet:localhost:7357\n",
                                                 "clamav-milter.conf": clamav})  # fmt: skip
    result = run(spec)
    held = [r for r in records(result, "queue", host="mx.example.net") if r.get("dst") == "hold"]
    assert len(held) == 1 and mailbox_messages(result, "mx.example.net", "bob") == []
    (action,) = [r for r in records(result, "action", host="mx.example.net") if "milter-hold" in r.get("text")]
    assert "clamav-milter: infected: Win.Test.EICAR_HDB-1" in action.get("text")


def test_the_client_waits_while_the_milters_work(tmp_path: Path) -> None:
    def submitted(folder: Path, time: str) -> float:
        clamav = f"MilterSocket inet:7357@localhost\nProcessingTime {time}\nScanRate 0\n"
        spec = world(folder, sender={"main.cf": "smtpd_milters = inet:localhost:7357\n",
                                     "clamav-milter.conf": clamav})  # fmt: skip
        (submit,) = records(run(spec), "submit", service="ua")
        return float(submit.time)

    fast, slow = submitted(tmp_path / "fast", "0s"), submitted(tmp_path / "slow", "2s")
    assert slow - fast == pytest.approx(2.0, abs=1e-6)
