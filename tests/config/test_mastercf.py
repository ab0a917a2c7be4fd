"""master.cf: Debian's stock services, -o overrides in both forms, and errors with file and line."""

from __future__ import annotations

import pytest

from mailsim.config import DEFAULT_MASTER_CF, parse_main_cf, parse_master_cf
from mailsim.core.errors import ConfigError

FILE = "hosts/mail/master.cf"


def test_the_stock_master_cf_has_postfixs_services() -> None:
    master = parse_master_cf(DEFAULT_MASTER_CF)
    names = [(s.name, s.type, s.command) for s in master.services()]
    assert names[:4] == [
        ("smtp", "inet", "smtpd"),
        ("pickup", "unix", "pickup"),
        ("cleanup", "unix", "cleanup"),
        ("qmgr", "unix", "qmgr"),
    ]
    for name in (
        "tlsmgr",
        "rewrite",
        "bounce",
        "defer",
        "trace",
        "verify",
        "flush",
        "proxymap",
        "showq",
        "error",
        "retry",
        "discard",
        "local",
        "virtual",
        "lmtp",
        "anvil",
        "scache",
        "postlog",
        "relay",
    ):
        assert master.service(name) is not None, name
    assert master.service("submission") is None  # commented out in the stock file
    assert master.service("smtp", "unix").command == "smtp"  # type: ignore[union-attr]


def test_fields_and_their_defaults() -> None:
    master = parse_master_cf(DEFAULT_MASTER_CF)
    pickup, qmgr, tlsmgr, smtpd = (master.service(n) for n in ("pickup", "qmgr", "tlsmgr", "smtp"))
    assert (pickup.private, pickup.unpriv, pickup.chroot, pickup.wakeup, pickup.maxproc) == (False, True, True, 60, 1)  # type: ignore[union-attr]
    assert (qmgr.wakeup, qmgr.chroot) == (300, False)  # type: ignore[union-attr]
    assert (tlsmgr.wakeup, tlsmgr.wakeup_if_used, tlsmgr.private) == (1000, True, True)  # type: ignore[union-attr]
    assert smtpd.maxproc is None and smtpd.process_limit(parse_main_cf("")) == 100  # type: ignore[union-attr]
    assert not smtpd.is_private  # type: ignore[union-attr]


def test_dash_means_chroot_no_in_postfix_3() -> None:
    (service,) = parse_master_cf("x unix - - - - - smtp\n").services()
    assert service.chroot is False and service.private is True and service.unpriv is True


def test_overrides_in_both_forms_and_continuation_lines() -> None:
    text = "submission inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n  -o { smtpd_reject_footer = go away }\n  -v\n"
    (service,) = parse_master_cf(text).services()
    assert service.overrides == (("syslog_name", "postfix/submission"), ("smtpd_reject_footer", "go away"))
    assert service.args == ("-v",)
    assert service.main_cf(parse_main_cf("")).get("syslog_name") == "postfix/submission"


def test_options_stop_at_the_first_argument() -> None:
    (service,) = parse_master_cf("maildrop unix - n n - - pipe flags=DRXhu argv=/usr/bin/maildrop -o x=y\n").services()
    assert service.overrides == ()
    assert service.args == ("flags=DRXhu", "argv=/usr/bin/maildrop", "-o", "x=y")


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("smtp", (None, 25)),
        ("submission", (None, 587)),
        ("127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("[::1]:submission", ("::1", 587)),
    ],
)
def test_inet_service_names_are_ports_or_host_ports(name: str, address: tuple[str | None, int]) -> None:
    (service,) = parse_master_cf(f"{name} inet n - n - - smtpd\n").services()
    assert service.listen("lmtp=24, smtp=25, smtps=submissions=465, submission=587") == address


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("smtp inet n - y\n", f"{FILE}:1: bad field count"),
        ("smtp inet n - y - - smtpd\nfoo bogus n - y - - smtpd\n", f'{FILE}:2: invalid type field "bogus"'),
        ("smtp inet x - y - - smtpd\n", f'{FILE}:1: invalid private field "x"'),
        ("smtp inet n - y abc - smtpd\n", f'{FILE}:1: invalid wakeup field "abc"'),
        ("smtp inet n - y - -1 smtpd\n", f'{FILE}:1: invalid process_limit field "-1"'),
        ("smtp inet n - y - - smtpd -o\n", f"{FILE}:1: -o needs an argument"),
        ("smtp inet n - y - - smtpd -o novalue\n", f"{FILE}:1: -o: missing '='"),
    ],
)
def test_malformed_entries_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_master_cf(text, file=FILE)
    assert str(caught.value).startswith(message)


def test_format_aligns_columns_like_postconf_m() -> None:
    (service,) = parse_master_cf("postlog unix-dgram n - n - 1 postlogd\n").services()
    assert service.format() == "postlog    unix-dgram n  -       n       -       1       postlogd"


def test_duplicate_services_warn() -> None:
    master = parse_master_cf("smtp inet n - y - - smtpd\nsmtp inet n - y - - smtpd\n", file=FILE)
    assert master.warnings[0].render() == f"postconf: warning: {FILE}, line 2: duplicate service: smtp/inet"
