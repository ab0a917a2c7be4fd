"""The one registry: Postfix 3.7's defaults, the kinds mailsim reads them as, and computed names."""

from __future__ import annotations

import pytest

from mailsim.config import MainCf, parse_main_cf
from mailsim.config.parameters import (
    PARAMETERS,
    Kind,
    compatibility_dependent,
    modelled_parameters,
    service_parameter,
    service_parameters,
)


def test_the_registry_covers_what_the_daemons_will_read() -> None:
    modelled = {p.name for p in modelled_parameters()}
    assert len(modelled) >= 150
    for name in (
        "queue_run_delay",
        "smtpd_relay_restrictions",
        "alias_maps",
        "smtp_sasl_password_maps",
        "virtual_mailbox_domains",
        "bounce_queue_lifetime",
        "hopcount_limit",
    ):
        assert name in modelled
    assert all(p.doc for p in modelled_parameters())


def test_every_modelled_default_reads_as_its_kind_on_an_empty_main_cf() -> None:
    main = MainCf()
    for parameter in modelled_parameters():
        reader = {Kind.TIME: main.time, Kind.SIZE: main.size, Kind.INT: main.int, Kind.BOOL: main.bool}
        reader.get(parameter.kind, main.get)(parameter.name)


def test_defaults_are_postfix_text_verbatim() -> None:
    assert PARAMETERS["queue_run_delay"].default == "300s"
    assert PARAMETERS["mydestination"].default == "$myhostname, localhost.$mydomain, localhost"
    assert PARAMETERS["append_dot_mydomain"].default == "${{$compatibility_level} <level {1} ? {yes} : {no}}"


def test_time_parameters_take_the_unit_of_their_default() -> None:
    assert PARAMETERS["maximal_queue_lifetime"].unit == "d"
    assert PARAMETERS["delay_warning_time"].unit == "h"
    assert PARAMETERS["smtpd_timeout"].unit == "s"


def test_compatibility_dependent_defaults_are_found_with_their_thresholds() -> None:
    found = {p.name: p.compatibility_threshold for p in compatibility_dependent()}
    assert found["append_dot_mydomain"] == "1"
    assert found["smtputf8_enable"] == "1"
    assert found["smtpd_relay_restrictions"] == "1"
    assert found["relay_domains"] == "2"
    assert found["mynetworks_style"] == "2"
    assert found["smtpd_relay_before_recipient_restrictions"] == "3.6"


@pytest.mark.parametrize(
    ("level", "relay_domains", "style", "dot", "utf8", "relay"),
    [
        (None, "$mydestination", "subnet", "yes", "no", ""),
        (
            "1",
            "$mydestination",
            "subnet",
            "no",
            "yes",
            "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
        ),
        ("2", "", "host", "no", "yes", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"),
        ("3.6", "", "host", "no", "yes", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"),
    ],
)
def test_compatibility_level_selects_the_defaults(level, relay_domains, style, dot, utf8, relay) -> None:  # type: ignore[no-untyped-def]
    main = parse_main_cf(f"compatibility_level = {level}\n" if level else "")
    assert main.compatibility_level == (level or "0")
    assert main.get("relay_domains") == (main.get("mydestination") if relay_domains else "")
    assert (main.get("mynetworks_style"), main.get("append_dot_mydomain"), main.get("smtputf8_enable")) == (
        style,
        dot,
        utf8,
    )
    assert main.get("smtpd_relay_restrictions") == relay


def test_service_parameters_default_to_the_global_one() -> None:
    parameter = service_parameter("relay_destination_concurrency_limit")
    assert parameter is not None and parameter.default == "$default_destination_concurrency_limit"
    assert service_parameter("relay_destination_recipient_limit").default == "$default_destination_recipient_limit"  # type: ignore[union-attr]
    assert service_parameter("maildrop_time_limit", [("maildrop", "pipe")]) is not None
    assert service_parameter("relay_time_limit", [("relay", "smtp")]) is None


def test_service_parameters_follow_master_cf_programs() -> None:
    names = service_parameters([("smtp", "smtpd"), ("smtp", "smtp"), ("policy", "spawn"), ("cleanup", "cleanup")])
    assert "policy_time_limit" in names
    assert "smtp_destination_concurrency_limit" in names
    assert not any(name.startswith("cleanup_") for name in names)


def test_service_time_parameters_inherit_the_global_unit() -> None:
    main = parse_main_cf("maildrop_time_limit = 20\nrelay_destination_rate_delay = 2\n")
    assert main.time("maildrop_time_limit") == 20
    assert service_parameter("relay_destination_rate_delay").unit == "s"  # type: ignore[union-attr]
