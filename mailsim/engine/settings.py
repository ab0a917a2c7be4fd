"""What shapes an SMTP server's answers, from main.cf, and the one place aiosmtpd's keyword arguments are pinned.

The same :class:`ServerSettings` drive the engine on both clocks, so ``smtp_kwargs`` is the only place
``aiosmtpd.smtp.SMTP(...)`` arguments are chosen (aiosmtpd's ``Controller`` and a bare ``SMTP`` disagree on
defaults such as ``enable_SMTPUTF8``; DESIGN.md §1).

Postfix parameters read (by :meth:`ServerSettings.from_main_cf`; Postfix defaults): myhostname, smtpd_banner,
message_size_limit (10240000), smtputf8_enable (yes), smtpd_tls_security_level (none),
smtpd_sasl_auth_enable (no), smtpd_tls_auth_only (no), smtpd_timeout (300s), smtpd_helo_required (no),
line_length_limit (2048), smtpd_soft_error_limit (10), smtpd_hard_error_limit (20),
smtpd_error_sleep_time (1s), smtpd_junk_command_limit (100), disable_vrfy_command (no).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mailsim.core.errors import ConfigError
from mailsim.core.units import parse_duration, parse_size

BODY_LINE_LIMIT = 65536  # longest DATA line accepted (Postfix: any length); also aiosmtpd's reader limit


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything that shapes what an SMTP server says, each field named after its Postfix parameter."""

    hostname: str  # myhostname
    banner: str = ""  # smtpd_banner, expanded ("" → "$myhostname ESMTP Postfix")
    data_size_limit: int = 10240000  # message_size_limit; 0 = unlimited
    enable_smtputf8: bool = True  # smtputf8_enable
    tls_context: ssl.SSLContext | None = None  # STARTTLS offered when set (smtpd_tls_security_level = may)
    require_starttls: bool = False  # smtpd_tls_security_level = encrypt
    auth_enabled: bool = False  # smtpd_sasl_auth_enable
    auth_require_tls: bool = False  # smtpd_tls_auth_only
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    timeout: float = 300.0  # smtpd_timeout
    helo_required: bool = False  # smtpd_helo_required
    line_length_limit: int = 2048  # line_length_limit (longest command line)
    soft_error_limit: int = 10  # smtpd_soft_error_limit
    hard_error_limit: int = 20  # smtpd_hard_error_limit
    error_sleep_time: float = 1.0  # smtpd_error_sleep_time
    junk_command_limit: int = 100  # smtpd_junk_command_limit
    vrfy_disabled: bool = False  # disable_vrfy_command: 502 to VRFY, and VRFY not in the EHLO reply
    pipelining: bool = True  # advertise PIPELINING (aiosmtpd reads pipelined commands in order)
    forbidden_commands: Callable[[str], bool] | None = None  # smtpd_forbidden_commands; None: Postfix's default

    def __post_init__(self) -> None:
        if self.require_starttls and self.tls_context is None:
            raise ConfigError(
                key="smtpd_tls_security_level", expected="a TLS certificate with level encrypt", found="none"
            )

    @property
    def greeting(self) -> str:
        return self.banner or f"{self.hostname} ESMTP Postfix"

    @classmethod
    def from_main_cf(
        cls, values: Mapping[str, str], *, tls_context: ssl.SSLContext | None = None, **overrides: Any
    ) -> ServerSettings:
        """Settings from (expanded) main.cf/master.cf ``-o`` values; a missing parameter keeps Postfix's default."""
        get = values.get
        level = get("smtpd_tls_security_level", "none").strip()
        kwargs: dict[str, Any] = {
            "hostname": get("myhostname", "localhost"),
            "banner": get("smtpd_banner", ""),
            "data_size_limit": parse_size(get("message_size_limit", "10240000")),
            "enable_smtputf8": _yes(get("smtputf8_enable", "yes")),
            "tls_context": tls_context if level in ("may", "encrypt") else None,
            "require_starttls": level == "encrypt",
            "auth_enabled": _yes(get("smtpd_sasl_auth_enable", "no")),
            "auth_require_tls": _yes(get("smtpd_tls_auth_only", "no")),
            "timeout": parse_duration(get("smtpd_timeout", "300s")),
            "helo_required": _yes(get("smtpd_helo_required", "no")),
            "line_length_limit": int(get("line_length_limit", "2048")),
            "soft_error_limit": int(get("smtpd_soft_error_limit", "10")),
            "hard_error_limit": int(get("smtpd_hard_error_limit", "20")),
            "error_sleep_time": parse_duration(get("smtpd_error_sleep_time", "1s")),
            "junk_command_limit": int(get("smtpd_junk_command_limit", "100")),
            "vrfy_disabled": _yes(get("disable_vrfy_command", "no")),
        }
        kwargs.update(overrides)
        return cls(**kwargs)


def _yes(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "1", "on")


def smtp_kwargs(settings: ServerSettings, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """The one place aiosmtpd's ``SMTP`` keyword arguments are chosen (identical on both clocks)."""
    return {
        "hostname": settings.hostname,  # never let aiosmtpd call socket.getfqdn()
        "ident": settings.greeting,
        "data_size_limit": settings.data_size_limit or None,
        "enable_SMTPUTF8": settings.enable_smtputf8,
        "decode_data": False,
        "tls_context": settings.tls_context,
        "require_starttls": False,  # enforced by our verb table with Postfix's list of allowed commands
        "timeout": settings.timeout,
        "auth_required": False,  # the hooks decide (smtpd_relay_restrictions), not the engine
        "auth_require_tls": settings.auth_require_tls,
        "auth_exclude_mechanism": [m for m in ("PLAIN", "LOGIN") if m not in settings.auth_mechanisms],
        "command_call_limit": None,  # smtpd_junk_command_limit is counted by the verb table instead
        "authenticator": None,  # AUTH goes through HookHandler.auth_* (the hooks are coroutines)
        "proxy_protocol_timeout": None,
        "loop": loop,
    }
