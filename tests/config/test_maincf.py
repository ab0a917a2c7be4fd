"""main.cf parsing: Postfix's syntax, its warnings, typed reads, and errors that name file and line."""

from __future__ import annotations

import pytest

from mailsim.config import MainCf, parse_main_cf
from mailsim.core.errors import ConfigError

FILE = "hosts/mail/main.cf"


def test_an_empty_main_cf_is_a_valid_configuration() -> None:
    main = parse_main_cf("")
    assert main.explicit() == {}
    assert main.warnings == ()
    assert main.time("queue_run_delay") == 300
    assert main.size("message_size_limit") == 10240000


def test_the_null_client_of_the_seed() -> None:
    main = parse_main_cf(
        "mydomain = cs.colorado.edu\nmyorigin = $mydomain\nmydestination =\nrelayhost = [mail.cs.colorado.edu]\n"
    )
    assert main.get("myorigin") == "cs.colorado.edu"
    assert main.list("mydestination") == []
    assert main.get("relayhost") == "[mail.cs.colorado.edu]"


def test_later_definitions_override_earlier_ones_with_a_warning() -> None:
    main = parse_main_cf("mydomain = x\nmydomain = y\n", file=FILE)
    assert main.get("mydomain") == "y"
    assert [w.render() for w in main.warnings] == [
        f"postconf: warning: {FILE}, line 2: overriding earlier entry: mydomain=x"
    ]


def test_continuation_lines_and_comments_join_a_value() -> None:
    main = parse_main_cf("smtpd_recipient_restrictions = permit_mynetworks,\n  # why\n    reject_unauth_destination\n")
    assert main.list("smtpd_recipient_restrictions") == ["permit_mynetworks", "reject_unauth_destination"]


def test_a_hash_inside_a_value_is_part_of_it() -> None:
    assert parse_main_cf("smtpd_banner = $myhostname # ESMTP\n").raw("smtpd_banner") == "$myhostname # ESMTP"


def test_a_leading_whitespace_line_is_ignored_with_a_warning() -> None:
    main = parse_main_cf("  relayhost = x\n", file=FILE)
    assert not main.is_set("relayhost")
    assert (
        main.warnings[0].render()
        == f'postconf: warning: {FILE}: logical line must not start with whitespace: "  relayhost = x"'
    )


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("nokey\n", f"{FILE}:1: missing '=' after attribute name: \"nokey\""),
        ("a = 1\n= x\n", f'{FILE}:2: missing attribute name: "= x"'),
        ("queue_run_delay = soon\n", f"{FILE}:1: queue_run_delay: expected a time value"),
        ("maximal_backoff_time = 10ms\n", f"{FILE}:1: maximal_backoff_time: expected a time value"),
        ("message_size_limit = 10MB\n", f"{FILE}:1: message_size_limit: expected a size in bytes"),
        ("smtpd_recipient_limit = many\n", f"{FILE}:1: smtpd_recipient_limit: expected a whole number"),
        ("soft_bounce = maybe\n", f"{FILE}:1: soft_bounce: expected yes or no"),
        ("x = 1\nmyorigin = ${mydomain\n", f"{FILE}:2: myorigin: truncated macro reference"),
        ("myorigin = $a\na = $myorigin\n", f"{FILE}:1: myorigin: unreasonable macro call nesting"),
        ("relay_destination_concurrency_limit = lots\n", f"{FILE}:1: relay_destination_concurrency_limit: expected"),
    ],
)
def test_bad_lines_and_values_name_file_line_and_key(text: str, rendered: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_main_cf(text, file=FILE)
    assert str(caught.value).startswith(rendered)


def test_typed_reads() -> None:
    main = parse_main_cf(
        "maximal_queue_lifetime = 3\ndelay_warning_time = 4\nsmtputf8_enable = YES\nrecipient_delimiter = +\n"
    )
    assert main.time("maximal_queue_lifetime") == 3 * 86400  # the unit of the default, days
    assert main.time("delay_warning_time") == 4 * 3600
    assert main.bool("smtputf8_enable") is True
    assert main.get("recipient_delimiter") == "+"


def test_time_values_from_stress_dependent_defaults() -> None:
    assert MainCf().time("smtpd_timeout") == 300
    assert parse_main_cf("stress = yes\n").time("smtpd_timeout") == 10


def test_lists_keep_brace_groups_whole() -> None:
    main = parse_main_cf("virtual_alias_maps = hash:/etc/postfix/virtual, inline:{ a=b, c=d }\n")
    assert main.list("virtual_alias_maps") == ["hash:/etc/postfix/virtual", "inline:{ a=b, c=d }"]


def test_user_defined_parameters_are_readable_and_expand() -> None:
    main = parse_main_cf("mua_client_restrictions = permit_sasl_authenticated, reject\n")
    assert main.list("mua_client_restrictions") == ["permit_sasl_authenticated", "reject"]
    with pytest.raises(KeyError):
        main.get("no_such_parameter")


def test_service_parameters_fall_back_to_their_global_default() -> None:
    main = parse_main_cf("default_destination_concurrency_limit = 7\n")
    assert main.int("relay_destination_concurrency_limit") == 7
    assert parse_main_cf("relay_destination_concurrency_limit = 2\n").int("relay_destination_concurrency_limit") == 2


def test_master_cf_overrides_replace_settings_and_are_checked() -> None:
    main = parse_main_cf("mua_relay = permit_sasl_authenticated, reject\n")
    submission = main.with_overrides({"smtpd_relay_restrictions": "$mua_relay", "smtpd_tls_security_level": "encrypt"})
    assert submission.list("smtpd_relay_restrictions") == ["permit_sasl_authenticated", "reject"]
    assert main.get("smtpd_tls_security_level") == ""
    with pytest.raises(ConfigError, match="master.cf:9: smtpd_timeout"):
        main.with_overrides({"smtpd_timeout": "slow"}, line=9)


def test_explicit_is_the_postconf_n_set() -> None:
    assert parse_main_cf("relayhost = x\nmydomain = y\n").explicit() == {"mydomain": "y", "relayhost": "x"}


def test_raw_parameters_are_not_expanded() -> None:
    assert MainCf().get("forward_path") == "$home/.forward${recipient_delimiter}${extension}, $home/.forward"


def test_unknown_parameters_warn_exactly_like_postconf() -> None:
    main = parse_main_cf("lonely = 1\nrelayhost = $nowhere\nmua = x\nsmtpd_client_restrictions = $mua\n", file=FILE)
    assert [w.render() for w in main.warnings] == [
        f"postconf: warning: {FILE}: undefined parameter: nowhere",
        f"postconf: warning: {FILE}: unused parameter: lonely=1",
    ]
    lonely = main.settings["lonely"]
    assert (lonely.file, lonely.line) == (FILE, 1)
