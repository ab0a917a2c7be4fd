"""A host folder as one configuration, with postconf's undefined/unused warnings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailsim.config import HostFacts, load_config

SUBMISSION = "submission inet n - n - - smtpd\n  -o smtpd_client_restrictions=$mua_client\n  -o myfoo=1\n"


def rendered(folder: Path, **options: object) -> list[str]:
    return [w.render() for w in load_config(folder, **options).warnings]  # type: ignore[arg-type]


def test_missing_files_mean_an_empty_main_cf_and_the_stock_master_cf(tmp_path: Path) -> None:
    config = load_config(tmp_path, HostFacts("mail.example.org"))
    assert config.main.get("myorigin") == "mail.example.org"
    assert config.master.service("pickup") is not None
    assert config.warnings == ()


def test_unused_and_undefined_parameters_warn_like_postconf(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("mua_client = permit_sasl_authenticated\nlonely = 1\nrelayhost = $nowhere\n", SUBMISSION)
    assert set(rendered(folder)) == {
        f"postconf: warning: {folder}/main.cf: undefined parameter: nowhere",
        f"postconf: warning: {folder}/main.cf: unused parameter: lonely=1",
        f"postconf: warning: {folder}/master.cf: unused parameter: myfoo=1",
    }


def test_restriction_classes_and_chains_count_as_use(config_dir: Callable[..., Path]) -> None:
    folder = config_dir("smtpd_restriction_classes = strict\nstrict = reject\na = $b\nb = 1\n")
    assert rendered(folder) == [f"postconf: warning: {folder}/main.cf: unused parameter: a=$b"]


def test_service_parameters_are_known_only_for_matching_services(config_dir: Callable[..., Path]) -> None:
    folder = config_dir(
        "relay_destination_concurrency_limit = 3\nfoo_destination_recipient_limit = 3\n", "relay unix - - n - - smtp\n"
    )
    assert rendered(folder) == [
        f"postconf: warning: {folder}/main.cf: unused parameter: foo_destination_recipient_limit=3"
    ]
