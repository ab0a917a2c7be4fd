"""The one registry of main.cf parameters: Postfix 3.7's defaults, kinds, and what mailsim reads.

Every parameter Postfix 3.7 knows is here with the default ``postconf -d`` prints (from the snapshot
in :mod:`mailsim.config.postfix_defaults`); those mailsim reads and acts on carry a kind and a one-line
doc (:mod:`mailsim.config.parameter_docs` ``MODELLED``) and ``modelled=True``; those it knows but does
not act on carry a kind and doc too (``CHECKED``) and ``checked=True``: their values are checked like
the modelled ones' (:meth:`mailsim.config.maincf.MainCf.validate`), nothing more. Postfix's own defaults are
expressions where they depend on the compatibility level, e.g. ``append_dot_mydomain =
${{$compatibility_level} <level {1} ? {yes} : {no}}``; they are kept verbatim and evaluated by the
expansion engine, so a main.cf without ``compatibility_level`` gets Postfix's backwards-compatible
defaults (the built-in level is 0 on Debian's 3.7, as upstream) exactly as real Postfix does.

Two kinds of names are computed rather than listed:
- host-derived defaults (myhostname, mydomain, mynetworks) — see :mod:`mailsim.config.hostfacts`;
- service-defined parameters, ``<service><suffix>`` for each master.cf service running a delivery
  agent (``relay_destination_concurrency_limit`` defaults to ``$default_destination_concurrency_limit``),
  as postconf registers them.

Kinds the registry does not declare are inferred from the default (yes/no → bool, ``300s`` →
time, digits → int, else string), which is how an unmodelled parameter still converts sanely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from mailsim.config.parameter_docs import CHECKED, MODELLED
from mailsim.config.postfix_defaults import BUILTIN_DEFAULTS, HOST_DERIVED


class Kind(StrEnum):
    """How a parameter's value is read."""

    TIME = "time"
    SIZE = "size"
    INT = "int"
    BOOL = "bool"
    LIST = "list"
    MAPS = "maps"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Parameter:
    """One main.cf parameter: its Postfix default text, how to read it, and why it exists."""

    name: str
    default: str
    kind: Kind = Kind.STRING
    doc: str = ""
    modelled: bool = False  # mailsim reads it and acts on it
    checked: bool = False  # mailsim only checks its value's kind (parameter_docs.CHECKED)
    host_derived: bool = False
    service: str = ""  # the master.cf service a service-defined parameter belongs to
    raw: bool = False  # never $-expanded when read (the daemon expands run-time macros itself)
    inherited_unit: str = ""  # a service-defined time parameter reads bare numbers as its global one does

    @property
    def unit(self) -> str:
        """Default time unit: the unit letter ending Postfix's default (``5d`` → d), else s."""
        if self.inherited_unit:
            return self.inherited_unit
        last = self.default.rstrip()[-1:] if self.kind is Kind.TIME else ""
        return last if last in ("s", "m", "h", "d", "w") else "s"

    @property
    def compatibility_threshold(self) -> str | None:
        """The compatibility level at which this default changes, when it depends on one."""
        match = re.search(r"compatibility_level\}\s*<level\s*\{([0-9.]+)\}", self.default)
        return match.group(1) if match else None


# Postfix's per-service parameter suffixes and the global parameter each defaults to
# (postconf_service.c); delivery agents get all but _time_limit, pipe gets all, spawn only _time_limit.
SERVICE_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {
        "_recipient_limit": "default_recipient_limit",
        "_extra_recipient_limit": "default_extra_recipient_limit",
        "_recipient_refill_limit": "default_recipient_refill_limit",
        "_recipient_refill_delay": "default_recipient_refill_delay",
        "_delivery_slot_cost": "default_delivery_slot_cost",
        "_delivery_slot_loan": "default_delivery_slot_loan",
        "_delivery_slot_discount": "default_delivery_slot_discount",
        "_minimum_delivery_slots": "default_minimum_delivery_slots",
        "_initial_destination_concurrency": "initial_destination_concurrency",
        "_destination_concurrency_limit": "default_destination_concurrency_limit",
        "_destination_recipient_limit": "default_destination_recipient_limit",
        "_destination_concurrency_positive_feedback": "default_destination_concurrency_positive_feedback",
        "_destination_concurrency_negative_feedback": "default_destination_concurrency_negative_feedback",
        "_destination_concurrency_failed_cohort_limit": "default_destination_concurrency_failed_cohort_limit",
        "_destination_rate_delay": "default_destination_rate_delay",
        "_transport_rate_delay": "default_transport_rate_delay",
        "_time_limit": "command_time_limit",
    }
)
DELIVERY_AGENTS = frozenset({"local", "error", "virtual", "smtp", "lmtp", "pipe"})
# Parameters Postfix reads without expansion (postconf -x leaves them alone); checked against 3.7.
RAW_PARAMETERS = frozenset(
    {
        "command_execution_directory",
        "default_rbl_reply",
        "forward_path",
        "luser_relay",
        "mailbox_command",
        "postscreen_expansion_filter",
        "postscreen_reject_footer",
        "smtpd_expansion_filter",
        "smtpd_reject_footer",
    }
)


def _infer_kind(default: str) -> Kind:
    """A kind for a parameter the registry does not describe, guessed from its default."""
    if default in ("yes", "no"):
        return Kind.BOOL
    if re.fullmatch(r"[0-9]+[smhdw]", default):
        return Kind.TIME
    if re.fullmatch(r"[0-9]+", default):
        return Kind.INT
    return Kind.STRING


def _build() -> Mapping[str, Parameter]:
    """The registry: every built-in parameter, with the modelled and checked ones' kinds and docs."""
    described: dict[str, tuple[Kind, str, bool]] = {}
    for text, modelled in ((MODELLED, True), (CHECKED, False)):
        for line in text.strip().splitlines():
            if line.startswith("#"):
                continue
            name, kind, doc = line.split(" ", 2)
            if name in described:
                raise RuntimeError(f"parameter_docs describes {name} twice")
            described[name] = (Kind(kind), doc, modelled)
    table: dict[str, Parameter] = {}
    for name, default in (*BUILTIN_DEFAULTS, *((n, "") for n in sorted(HOST_DERIVED))):
        kind, doc, modelled = described.pop(name, (_infer_kind(default), "", False))
        table[name] = Parameter(
            name, default, kind, doc, modelled, checked=bool(doc) and not modelled,
            host_derived=name in HOST_DERIVED, raw=name in RAW_PARAMETERS,
        )  # fmt: skip
    if described:
        raise RuntimeError(f"parameter_docs names parameters Postfix 3.7 does not have: {sorted(described)}")
    return MappingProxyType(dict(sorted(table.items())))


PARAMETERS: Mapping[str, Parameter] = _build()

MODEL_KNOBS: Mapping[str, str] = MappingProxyType({
    "mailsim_smtpd_greeting_delay": "hold each admitted smtpd session this long before its greeting (a slow server)",
    "mailsim_smtpd_greeting_jitter": "vary that hold by a uniform factor in [1 - j, 1 + j]",
})  # fmt: skip
"""main.cf names that are not Postfix's but that mailsim reads: real postconf (and ``mailsim postconf``) calls
them unused, a simulation does not."""


def modelled_parameters() -> list[Parameter]:
    """The parameters mailsim reads and acts on, in name order."""
    return [p for p in PARAMETERS.values() if p.modelled]


def checked_parameters() -> list[Parameter]:
    """The parameters mailsim knows but does not act on (only their values are checked), in name order."""
    return [p for p in PARAMETERS.values() if p.checked]


def service_parameter(name: str, services: Iterable[tuple[str, str]] | None = None) -> Parameter | None:
    """``<service><suffix>`` as a Parameter defaulting to ``$<global>``; with ``services`` (name, program)
    pairs only for services that run a delivery agent (or spawn, for ``_time_limit``), as postconf does."""
    for suffix, global_name in sorted(SERVICE_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if not name.endswith(suffix) or len(name) == len(suffix):
            continue
        service = name[: -len(suffix)]
        if services is not None and not _service_has(services, service, suffix):
            continue
        base = PARAMETERS[global_name]
        return Parameter(
            name, f"${global_name}", base.kind, base.doc, base.modelled, base.checked, service=service,
            inherited_unit=base.unit,
        )  # fmt: skip
    return None  # a name ending in a suffix of a service that does not read it, or no suffix at all


def _service_has(services: Iterable[tuple[str, str]], service: str, suffix: str) -> bool:
    """Whether master.cf's ``service`` runs a program that reads ``service + suffix``."""
    wanted = ("pipe", "spawn") if suffix == "_time_limit" else DELIVERY_AGENTS
    return any(name == service and program in wanted for name, program in services)


def service_parameters(services: Iterable[tuple[str, str]]) -> dict[str, Parameter]:
    """Every service-defined parameter of these master.cf services that is not built in."""
    pairs = list(services)
    found: dict[str, Parameter] = {}
    for service, _ in pairs:
        for suffix in SERVICE_SUFFIXES:
            parameter = service_parameter(service + suffix, pairs)
            if parameter and parameter.name not in PARAMETERS:
                found[parameter.name] = parameter
    return found


def lookup_parameter(name: str) -> Parameter | None:
    """The built-in or service-defined (by suffix, whatever the service) parameter called ``name``."""
    return PARAMETERS.get(name) or service_parameter(name)


def compatibility_dependent() -> list[Parameter]:
    """The parameters whose Postfix default depends on compatibility_level."""
    return [p for p in PARAMETERS.values() if p.compatibility_threshold]
