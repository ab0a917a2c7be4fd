"""The run owns its randomness: the same seed gives the same trace, another seed another trace."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mailsim.api import run
from mailsim.scenario.loader import load
from tests.mta.worlds import RECEIVER_MAIN, SENDER_MAIN


def equal_mx_world(tmp: Path):
    """example.net has two MX hosts of equal preference: RFC 5321 §5.1 says pick them in random order."""
    for name, main in (("mail", SENDER_MAIN.format(extra="")), ("mx1", RECEIVER_MAIN), ("mx2", RECEIVER_MAIN)):
        (tmp / "hosts" / name).mkdir(parents=True)
        (tmp / "hosts" / name / "main.cf").write_text(main.replace("mx.example.net", f"{name}.example.net"))
    (tmp / "zones").mkdir()
    (tmp / "zones/example.net.zone").write_text(
        "$ORIGIN example.net.\n$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN MX 10 mx1\n@ IN MX 10 mx2\n"
    )
    messages = "".join(
        f'[[messages]]\nat = "{i}s"\nfrom = "alice@example.org"\nto = ["bob@example.net"]\nvia = "sendmail"\n'
        f'server = "mail.example.org"\n'
        for i in range(1, 13)
    )
    (tmp / "scenario.toml").write_text(textwrap.dedent("""
        seed = 1
        until = "10m"
        hosts = [
          { name = "mail.example.org", addresses = ["192.0.2.10"], roles = ["mta"], config = "hosts/mail" },
          { name = "mx1.example.net", addresses = ["203.0.113.1"], roles = ["mta"], config = "hosts/mx1" },
          { name = "mx2.example.net", addresses = ["203.0.113.2"], roles = ["mta"], config = "hosts/mx2" },
        ]
        links = [
          { a = "mail.example.org", b = "mx1.example.net", latency = "5ms" },
          { a = "mail.example.org", b = "mx2.example.net", latency = "7ms" },
        ]
        [dns]
        zones = ["zones/example.net.zone"]
        """) + messages)
    return load(tmp)


def test_same_seed_same_trace_other_seed_other_trace(tmp_path):
    spec = equal_mx_world(tmp_path)
    first, again, other = run(spec, seed=1), run(spec, seed=1), run(spec, seed=2)
    assert first.digest == again.digest
    assert first.digest != other.digest
    relays = {r.get("relay") for r in first.trace.select("delivery", host="mail.example.org", service="smtp")}
    assert len(relays) == 2  # both MX hosts were used: the choice really is random per message
