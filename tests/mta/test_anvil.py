"""anvil(8)'s counters: concurrency, sliding rates per client, and the exception list."""

from __future__ import annotations

from mailsim.config.maincf import parse_main_cf
from mailsim.config.tables import EmptyTable
from mailsim.mta.anvil import Anvil, Excess

MAIN = """
compatibility_level = 3.6
myhostname = mx.example.net
mynetworks = 127.0.0.0/8
smtpd_client_connection_count_limit = 2
smtpd_client_connection_rate_limit = 3
smtpd_client_message_rate_limit = 2
anvil_rate_time_unit = 10s
"""


def anvil() -> Anvil:
    return Anvil(parse_main_cf(MAIN), lambda *args, **kwargs: EmptyTable())


def test_the_third_concurrent_connection_is_over_the_count_limit_until_one_leaves() -> None:
    a = anvil()
    assert a.connect("192.0.2.1", 0.0) is None and a.connect("192.0.2.1", 1.0) is None
    assert a.connect("192.0.2.1", 2.0) == Excess("Connection concurrency limit exceeded", 3)
    a.disconnect("192.0.2.1")
    a.disconnect("192.0.2.1")
    assert a.connect("192.0.2.9", 2.0) is None  # another client has its own count


def test_rates_slide_over_anvil_rate_time_unit() -> None:
    a = anvil()
    for t in (0.0, 1.0, 2.0):
        assert a.connect("192.0.2.1", t) is None
        a.disconnect("192.0.2.1")
    assert a.connect("192.0.2.1", 3.0) == Excess("Connection rate limit exceeded", 4)
    a.disconnect("192.0.2.1")
    assert a.connect("192.0.2.1", 11.5) is None  # 0.0 and 1.0 have left the 10 s window
    assert a.mail("192.0.2.1", 0.0) is None and a.mail("192.0.2.1", 1.0) is None
    assert a.mail("192.0.2.1", 2.0) == Excess("Message delivery request rate limit exceeded", 3)


def test_mynetworks_are_the_default_exceptions() -> None:
    a = anvil()
    assert a.exempt("localhost", "127.0.0.1") and not a.exempt("unknown", "192.0.2.1")
