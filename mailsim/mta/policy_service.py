"""Policy services smtpd delegates to (SMTPD_POLICY_README): policyd-spf, spawned from master.cf.

A receiving host checks SPF the Debian way::

    # master.cf
    policyd-spf  unix  -  n  n  -  0  spawn
      user=policyd-spf argv=/usr/bin/policyd-spf
    # main.cf
    smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
        check_policy_service unix:private/policyd-spf

:func:`policy_services_for` finds every ``spawn`` service whose ``argv=`` runs policyd-spf
(``/usr/bin/policyd-spf`` or ``postfix-policyd-spf-python``) and returns, for the restriction
engine, a callable per socket name (``unix:private/<service>``, ``private/<service>``). Each asks
:func:`mailsim.policy.auth.spfpolicy.decide_spf_policy` with the host's resolver as DNS and the
simulated clock; its ``prepend Received-SPF: ...`` becomes a header through the restriction engine's
PREPEND action, ``550 5.7.23`` a reject, ``defer_if_permit 4.7.24`` a 4xx (a DNS timeout defers, it
never rejects). Like policyd-spf it answers once per message (``instance``): further recipients
get the same decision, and ``dunno`` after a prepend. Each answer is a ``policy`` trace record with
the modelled DNS time it would have cost (``dns_time``); like smtpd's other restriction lookups it
asks with ``lookup_now``, so no virtual time passes during the check.

Options come from ``policyd-spf.conf`` in the host folder - the file named after ``argv=`` (read
inside the host folder), else ``policyd-spf.conf`` at the folder's top - in policyd-spf.conf(5)
syntax: ``HELO_reject = Fail``, ``Mail_From_reject = False``, ``PermError_reject = False``,
``TempError_Defer = True``, ``skip_addresses = 127.0.0.0/8,::1``, ``Hide_Receiver = Yes``,
``SPF_Enhanced_Status_Codes = Yes``, ``Reason_Message = ...``.

Postfix parameters read: none (master.cf entries; smtpd reads the restrictions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mailsim.core.errors import ConfigError
from mailsim.core.memo import remember
from mailsim.mta.milters.keys import host_path
from mailsim.policy.auth.spfpolicy import SpfPolicyDecision, SpfPolicySettings, decide_spf_policy
from mailsim.policy.restrictions.model import PolicyService

PROGRAMS = frozenset({"policyd-spf", "postfix-policyd-spf-python"})
CONF = "policyd-spf.conf"
FLAGS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
LEVELS = ("HELO_reject", "Mail_From_reject")
SWITCHES = {"PermError_reject": "permerror_reject", "TempError_Defer": "temperror_defer",
            "Hide_Receiver": "hide_receiver", "SPF_Enhanced_Status_Codes": "enhanced_status_codes"}  # fmt: skip
IGNORED = frozenset({"debugLevel", "TestOnly", "Whitelist", "HELO_Whitelist", "Domain_Whitelist", "Header_Type",
                     "Lookup_Time", "Void_Limit", "No_Mail", "Authserv_Id", "Domain_Whitelist_PTR"})  # fmt: skip
CACHE_LIMIT = 4096


class PolicydSpf:
    """One policyd-spf service of a host: the request attributes -> the ``action=`` text."""

    def __init__(self, host: Any, service: str, settings: SpfPolicySettings) -> None:
        self.host = host
        self.service = service
        self.settings = replace(settings, receiver=host.main.get("myhostname"))
        self._instances: dict[str, SpfPolicyDecision] = {}

    def __call__(self, request: Mapping[str, str]) -> str:
        instance = request.get("instance", "")
        previous = self._instances.get(instance) if instance else None
        now = float(self.host.sim.wallclock().timestamp())
        decision = decide_spf_policy(request, self.host.resolver.lookup_now, settings=self.settings, now=now,
                                     previous=previous)  # fmt: skip
        if instance and previous is None:
            remember(self._instances, instance, decision, CACHE_LIMIT)
        self._trace(request, decision, previous is not None)
        return decision.action

    def _trace(self, request: Mapping[str, str], decision: SpfPolicyDecision, cached: bool) -> None:
        fields: dict[str, Any] = {"action": decision.action, "kind": decision.kind, "cached": cached,
                                  "client": request.get("client_address", ""), "sender": request.get("sender", "")}  # fmt: skip
        if decision.helo is not None:
            fields["helo_result"] = decision.helo.result
        if decision.mail_from is not None:
            fields.update(spf=decision.mail_from.result, spf_domain=decision.mail_from.domain)
        fields["dns_time"] = decision.dns_time
        queue_id = request.get("queue_id") or None
        self.host.sim.trace.emit(self.host.name, self.service, "policy", queue_id=queue_id, **fields)


def policy_services_for(host: Any) -> dict[str, PolicyService]:
    """Every policy service of the host's master.cf that mailsim runs, by check_policy_service name."""
    services: dict[str, PolicyService] = {}
    for entry in host.config.master.services():
        argv = _argv(entry.args)
        if entry.command != "spawn" or not argv or Path(argv[0]).name not in PROGRAMS:
            continue
        daemon = PolicydSpf(host, entry.name, _settings(host, argv[1:]))
        for name in (f"unix:private/{entry.name}", f"private/{entry.name}", f"unix:{entry.name}"):
            services[name] = daemon
    return services


def _argv(args: tuple[str, ...]) -> list[str]:
    """The command line after ``argv=`` in a spawn entry."""
    for index, arg in enumerate(args):
        if arg.startswith("argv="):
            return [arg[5:], *args[index + 1 :]]
    return []


def _settings(host: Any, arguments: list[str]) -> SpfPolicySettings:
    folder = host.config.folder
    if folder is None:
        return SpfPolicySettings()
    candidates = [host_path(folder, arg) for arg in arguments if not arg.startswith("-")] + [Path(folder) / CONF]
    path = next((p for p in candidates if p.is_file()), None)
    return read_settings(path) if path is not None else SpfPolicySettings()


def read_settings(path: Path) -> SpfPolicySettings:
    """policyd-spf.conf(5): ``name = value`` lines; an unknown name or bad value is a ConfigError."""
    values: dict[str, Any] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep:
            raise ConfigError(file=str(path), line=number, key=name, expected="name = value", found=line)
        values.update(_option(name, value, str(path), number))
    try:
        return SpfPolicySettings(**values)
    except ConfigError as error:
        raise ConfigError(error.detail, file=str(path), key=error.key, expected=error.expected,
                          found=error.found) from None  # fmt: skip


def _option(name: str, value: str, file: str, line: int) -> dict[str, Any]:
    if name in LEVELS:
        return {name.lower(): value}
    if name in SWITCHES:
        if value.lower() not in FLAGS:
            raise ConfigError(file=file, line=line, key=name, expected="Yes or No (True/False, 1/0)", found=value)
        return {SWITCHES[name]: FLAGS[value.lower()]}
    if name == "skip_addresses":
        return {"skip_addresses": tuple(a.strip() for a in value.split(",") if a.strip())}
    if name == "Reason_Message":
        return {"reason_message": value}
    if name in IGNORED:
        return {}
    known = sorted([*LEVELS, *SWITCHES, "skip_addresses", "Reason_Message", *IGNORED])
    raise ConfigError(file=file, line=line, key=name, expected="one of " + ", ".join(known), found=name)
