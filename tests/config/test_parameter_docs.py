"""The registry's two tables stay honest: a MODELLED parameter is read by code, a CHECKED one only checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailsim.config import parse_main_cf
from mailsim.config.parameters import PARAMETERS, checked_parameters, modelled_parameters
from mailsim.core.errors import ConfigError

PACKAGE = Path(__file__).resolve().parents[2] / "mailsim"
REGISTRY = {"parameter_docs.py", "postfix_defaults.py"}  # the registry itself, not a reader
SMTP_CLIENT = PACKAGE / "mta" / "smtp.py"  # reads smtp_* and lmtp_* as f"{self.prefix}_<suffix>"


def _sources() -> str:
    return "\n".join(path.read_text() for path in sorted(PACKAGE.rglob("*.py")) if path.name not in REGISTRY)


def _read(name: str, sources: str, smtp_client: str) -> bool:
    if re.search(rf"\b{re.escape(name)}\b", sources):
        return True
    prefixed = re.fullmatch(r"(?:smtp|lmtp)(_\w+)", name)
    return (
        prefixed is not None
        and re.search(rf"{{(?:self\.)?prefix}}{re.escape(prefixed.group(1))}\b", smtp_client) is not None
    )


def test_every_modelled_parameter_is_read_somewhere_in_mailsim() -> None:
    """A name in MODELLED without code that reads it claims behaviour mailsim does not have: move it to CHECKED."""
    sources, smtp_client = _sources(), SMTP_CLIENT.read_text()
    unread = [p.name for p in modelled_parameters() if not _read(p.name, sources, smtp_client)]
    assert unread == []


def test_the_prefix_rule_only_accepts_what_the_smtp_client_builds() -> None:
    smtp_client = SMTP_CLIENT.read_text()
    assert _read("lmtp_connect_timeout", "", smtp_client)  # f"{prefix}_connect_timeout"
    assert not _read("lmtp_lhlo_name", "", smtp_client)


def test_checked_parameters_are_known_and_documented_but_not_modelled() -> None:
    checked = checked_parameters()
    assert checked and all(p.doc and p.checked and not p.modelled for p in checked)
    assert not {p.name for p in checked} & {p.name for p in modelled_parameters()}
    assert PARAMETERS["smtpd_tls_loglevel"].checked and not PARAMETERS["hopcount_limit"].checked


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("smtpd_policy_service_timeout = soon", "smtpd_policy_service_timeout"),
        ("hopcount_limit = many", "hopcount_limit"),
    ],
)
def test_values_of_checked_and_modelled_parameters_are_both_checked(line: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_main_cf(line + "\n")
    assert caught.value.key == key
