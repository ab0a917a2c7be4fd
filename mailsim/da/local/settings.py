"""local(8)'s main.cf parameters, read once per agent from the service's main.cf (master.cf ``-o`` applied).

Parameters read (Postfix 3.7 defaults): alias_maps (hash:/etc/aliases, nis:mail.aliases), forward_path
($home/.forward${recipient_delimiter}${extension}, $home/.forward), allow_mail_to_files and
allow_mail_to_commands (alias, forward), owner_request_special (yes), expand_owner_alias (no),
recipient_delimiter (), propagate_unmatched_extensions (canonical, virtual), mail_spool_directory (/var/mail),
home_mailbox (), mailbox_command (), mailbox_command_maps (), mailbox_transport (), mailbox_transport_maps (),
fallback_transport (), fallback_transport_maps (), luser_relay (), mailbox_size_limit (51200000),
frozen_delivered_to (yes), enable_original_recipient (yes), prepend_delivered_header (command, file, forward),
command_time_limit (1000s), deliver_lock_attempts (20), deliver_lock_delay (1s), myhostname, mail_name
(Postfix) and, for resolving alias items, every trivial-rewrite parameter
(:mod:`mailsim.policy.rewrite.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailsim.config.maincf import MainCf


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """The plain values; tables are opened by the agent through its host (they are cached there)."""

    forward_path: tuple[str, ...] = ("$home/.forward${recipient_delimiter}${extension}", "$home/.forward")
    recipient_delimiter: str = ""
    mail_spool_directory: str = "/var/mail"
    home_mailbox: str = ""
    mailbox_command: str = ""
    mailbox_command_maps: str = ""
    mailbox_transport: str = ""
    mailbox_transport_maps: str = ""
    fallback_transport: str = ""
    fallback_transport_maps: str = ""
    luser_relay: str = ""
    mailbox_size_limit: int = 51200000
    frozen_delivered_to: bool = True
    enable_original_recipient: bool = True
    prepend_delivered_header: frozenset[str] = frozenset({"command", "file", "forward"})
    command_time_limit: float = 1000.0
    deliver_lock_attempts: int = 20
    deliver_lock_delay: float = 1.0
    myhostname: str = "localhost"
    mail_name: str = "Postfix"

    @classmethod
    def from_main(cls, main: MainCf) -> LocalSettings:
        """Read and check every parameter (a bad value is a ConfigError naming main.cf's line)."""
        return cls(
            forward_path=tuple(item for item in main.raw("forward_path").replace(",", " ").split() if item),
            recipient_delimiter=main.get("recipient_delimiter"),
            mail_spool_directory=main.get("mail_spool_directory"),
            home_mailbox=main.get("home_mailbox"),
            mailbox_command=main.raw("mailbox_command"),  # not $name-expanded (postconf(5)): the shell does it
            mailbox_command_maps=main.get("mailbox_command_maps"),
            mailbox_transport=main.get("mailbox_transport"),
            mailbox_transport_maps=main.get("mailbox_transport_maps"),
            fallback_transport=main.get("fallback_transport"),
            fallback_transport_maps=main.get("fallback_transport_maps"),
            luser_relay=main.raw("luser_relay"),  # expanded per recipient with $user, $domain, ...
            mailbox_size_limit=main.size("mailbox_size_limit"),
            frozen_delivered_to=main.bool("frozen_delivered_to"),
            enable_original_recipient=main.bool("enable_original_recipient"),
            prepend_delivered_header=frozenset(main.list("prepend_delivered_header")),
            command_time_limit=main.time("command_time_limit"),
            deliver_lock_attempts=main.int("deliver_lock_attempts"),
            deliver_lock_delay=main.time("deliver_lock_delay"),
            myhostname=main.get("myhostname"),
            mail_name=main.get("mail_name"),
        )
