"""virtual(8): virtual_mailbox_maps paths below virtual_mailbox_base, Maildir or mbox, unknown users, limits."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from mailsim.core.errors import ConfigError
from mailsim.da.virtual import VirtualAgent
from mailsim.mail.delivery import DeliveryStatus
from tests.da.fakes import MESSAGE, FakeHost

MAIN_CF = """virtual_mailbox_domains = virt.example, catch.example
virtual_mailbox_maps = hash:/etc/postfix/vmailbox
virtual_mailbox_base = /var/mail/vhosts
recipient_delimiter = +
"""
VMAILBOX = """info@virt.example   virt.example/info/
sales@virt.example  virt.example/sales
@catch.example      catch.example/all/
"""


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path, main_cf=MAIN_CF, config_files={"vmailbox": VMAILBOX})


def deliver(host: FakeHost, *recipients: str, **options: object):  # type: ignore[no-untyped-def]
    return host.deliver(VirtualAgent(host), *recipients, transport="virtual", **options)  # type: ignore[arg-type]


def test_trailing_slash_means_maildir(host: FakeHost) -> None:
    (status,) = deliver(host, "info@virt.example").statuses
    assert (status.status, status.reason) == (DeliveryStatus.SENT, "delivered to maildir")
    (message,) = mailbox.Maildir(host.path("/var/mail/vhosts/virt.example/info"), create=False)
    assert message["Delivered-To"] == "info@virt.example"
    assert host.records("virtual")[0]["relay"] == "virtual"


def test_no_slash_means_mbox(host: FakeHost) -> None:
    assert deliver(host, "sales@virt.example").statuses[0].reason == "delivered to mailbox"
    assert len(mailbox.mbox(host.path("/var/mail/vhosts/virt.example/sales"))) == 1


def test_extension_and_catch_all_lookups(host: FakeHost) -> None:
    statuses = deliver(host, "info+news@virt.example", "anyone@catch.example").statuses
    assert [s.reason for s in statuses] == ["delivered to maildir"] * 2
    assert len(mailbox.Maildir(host.path("/var/mail/vhosts/catch.example/all"), create=False)) == 1


def test_unknown_virtual_user_bounces_with_the_whole_address(host: FakeHost) -> None:
    (status,) = deliver(host, "Nobody@virt.example").statuses
    assert (status.status, status.dsn, status.reason) == (
        DeliveryStatus.BOUNCED,
        "5.1.1",
        'unknown user: "nobody@virt.example"',
    )


def test_virtual_mailbox_limit_bounces(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf=MAIN_CF + "virtual_mailbox_limit = 64\nmessage_size_limit = 64\n",
                    config_files={"vmailbox": VMAILBOX})  # fmt: skip
    (status,) = deliver(host, "sales@virt.example").statuses
    assert (status.status, status.dsn) == (DeliveryStatus.BOUNCED, "5.2.2")
    assert status.reason == "mailbox /var/mail/vhosts/virt.example/sales: error writing message: File too large"


def test_delivered_to_loop(host: FakeHost) -> None:
    (status,) = deliver(host, "info@virt.example", content=b"Delivered-To: INFO@virt.example\r\n" + MESSAGE).statuses
    assert status.reason == "mail forwarding loop for info@virt.example"


def test_relative_mailbox_base_is_a_config_error(tmp_path: Path) -> None:
    host = FakeHost(
        tmp_path, main_cf=MAIN_CF + "virtual_mailbox_base = var/vmail\n", config_files={"vmailbox": VMAILBOX}
    )
    with pytest.raises(ConfigError, match="virtual_mailbox_base: do not specify relative pathname"):
        VirtualAgent(host)


def test_unset_mailbox_base_defers_like_a_fatal_virtual8(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, main_cf="virtual_mailbox_maps = hash:/etc/postfix/vmailbox\n",
                    config_files={"vmailbox": VMAILBOX})  # fmt: skip
    (status,) = deliver(host, "info@virt.example").statuses
    assert (status.status, status.reason) == (DeliveryStatus.DEFERRED, "unknown mail transport error")
