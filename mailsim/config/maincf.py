"""main.cf: Postfix's syntax parsed into a frozen :class:`MainCf` that answers typed questions.

Syntax (postconf(5)): ``name = value`` logical lines (continuation lines start with whitespace;
``#`` starts a comment only as the first non-blank character of a line, so ``a = b # c`` has the
value ``b # c``); a later definition overrides an earlier one (with Postfix's warning); a logical
line that itself starts with whitespace is ignored with a warning; a line without ``=`` is an error.
An empty main.cf is a valid configuration: every parameter then has its Postfix 3.7 default.

Values are kept raw and expanded on demand (:mod:`mailsim.config.expand`), with settings first,
then Postfix's defaults, host-derived defaults computed from :class:`HostFacts`, and service-defined
defaults (``<transport>_destination_concurrency_limit`` → ``$default_destination_concurrency_limit``).
Every explicit setting of a parameter mailsim reads is expanded and checked against its kind when
the file is parsed, so a bad value is reported with file, line and key before a simulation starts.

Parameters read: all of them, on behalf of the daemons; host-derived ones per
:mod:`mailsim.config.hostfacts`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from mailsim.config.expand import ExpandError, expand
from mailsim.config.hostfacts import (
    HostFacts,
    default_mydomain,
    default_myhostname,
    default_mynetworks,
    listening_interfaces,
)
from mailsim.config.mastercf import DEFAULT_MASTER_CF, MasterCf, parse_master_cf
from mailsim.config.parameters import Kind, Parameter, lookup_parameter
from mailsim.config.syntax import ConfigWarning, logical_lines, split_nameval
from mailsim.config.usage import usage_warnings
from mailsim.config.values import ValueFormError, check, to_bool, to_int, to_list, to_size, to_time
from mailsim.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Setting:
    """One explicit ``name = value`` and where it was written (main.cf line or master.cf ``-o``)."""

    name: str
    value: str
    file: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class MainCf:
    """A parsed main.cf (plus any master.cf ``-o`` overrides) for one host; immutable."""

    settings: Mapping[str, Setting] = field(default_factory=lambda: MappingProxyType({}))
    host: HostFacts = field(default_factory=HostFacts)
    file: str = "main.cf"
    warnings: tuple[ConfigWarning, ...] = ()
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _active: set[str] = field(default_factory=set, compare=False, repr=False)

    # -- raw values ---------------------------------------------------------------------------
    def raw(self, name: str) -> str:
        """The unexpanded value: the setting, else Postfix's default; KeyError for an unknown name."""
        value = self.lookup(name)
        if value is None:
            raise KeyError(f"{name}: unknown parameter")
        return value

    def lookup(self, name: str) -> str | None:
        """The unexpanded value, or None when ``name`` is neither set nor known to Postfix."""
        setting = self.settings.get(name)
        if setting is not None:
            return setting.value
        return self.default(name)

    def default(self, name: str) -> str | None:
        """Postfix's default for ``name`` on this host, in the context of these settings."""
        if name == "myhostname":
            mydomain = self.get("mydomain") if "mydomain" in self.settings else None
            return default_myhostname(self.host, mydomain)
        if name == "mydomain":
            return default_mydomain(self.get("myhostname"))
        if name == "mynetworks":
            interfaces = listening_interfaces(self.host, self.list("inet_interfaces"), self.list("inet_protocols"))
            return default_mynetworks(interfaces, self.get("mynetworks_style"))
        parameter = lookup_parameter(name)
        return parameter.default if parameter else None

    def is_set(self, name: str) -> bool:
        """Whether main.cf (or an override) sets ``name`` explicitly."""
        return name in self.settings

    def explicit(self) -> dict[str, str]:
        """The explicit settings, name → raw value, sorted by name (what ``postconf -n`` starts from)."""
        return {name: self.settings[name].value for name in sorted(self.settings)}

    # -- expanded and typed values ---------------------------------------------------------
    def get(self, name: str) -> str:
        """The value with every ``$name`` expanded; KeyError for an unknown name."""
        if name not in self._cache:
            if name in self._active:
                raise ExpandError(f'unreasonable macro call nesting: "{name}"')
            self._active.add(name)
            try:
                parameter = lookup_parameter(name)
                raw = self.raw(name)
                self._cache[name] = raw if parameter is not None and parameter.raw else expand(raw, self.lookup, 1)
            finally:
                self._active.discard(name)
        return self._cache[name]

    def time(self, name: str) -> float:
        """Seconds; a bare number takes the unit of Postfix's default for the parameter."""
        return self._typed(name, lambda value: to_time(value, _parameter(name).unit))

    def size(self, name: str) -> int:
        """Bytes."""
        return self._typed(name, to_size)

    def int(self, name: str) -> int:
        """A whole number."""
        return self._typed(name, to_int)

    def bool(self, name: str) -> bool:
        """yes → True, no → False."""
        return self._typed(name, to_bool)

    def list(self, name: str) -> builtins.list[str]:
        """Elements split on commas and whitespace, ``{...}`` groups kept whole."""
        return list(to_list(self.get(name)))

    def _typed(self, name: str, convert: Callable[[str], T]) -> T:
        """Convert ``get(name)``, turning a bad form into a ConfigError that names the setting."""
        try:
            return convert(self.get(name))
        except ValueFormError as error:
            setting = self.settings.get(name)
            raise ConfigError(
                "",
                file=setting.file if setting else None,
                line=setting.line if setting else None,
                key=name,
                expected=error.expected,
                found=error.found,
            ) from None

    @property
    def compatibility_level(self) -> str:
        """The effective compatibility_level (``0`` when main.cf does not set one)."""
        return self.get("compatibility_level")

    # -- derived configurations --------------------------------------------------------------
    def with_overrides(
        self, overrides: Mapping[str, str], *, file: str = "master.cf", line: builtins.int | None = None
    ) -> MainCf:
        """This configuration with master.cf ``-o name=value`` overrides applied (and checked)."""
        settings = dict(self.settings)
        for name, value in overrides.items():
            settings[name] = Setting(name, value, file, line)
        derived = MainCf(MappingProxyType(settings), self.host, self.file, self.warnings)
        derived.validate(names=list(overrides))
        return derived

    def validate(self, names: builtins.list[str] | None = None) -> None:
        """Expand every explicit setting and check the kinds of the parameters mailsim reads or checks."""
        for name in names if names is not None else list(self.settings):
            setting = self.settings[name]
            try:
                value = self.get(name)
            except ExpandError as error:
                raise ConfigError(str(error), file=setting.file, line=setting.line, key=name) from None
            parameter = lookup_parameter(name)
            if parameter is None or not (parameter.modelled or parameter.checked):
                continue
            try:
                check(parameter.kind, value, parameter.unit)
            except ValueFormError as error:
                raise ConfigError(
                    "", file=setting.file, line=setting.line, key=name, expected=error.expected, found=error.found
                ) from None


def _parameter(name: str) -> Parameter:
    """The registry entry for ``name`` (a plain string parameter for user-defined names)."""
    return lookup_parameter(name) or Parameter(name, "", Kind.STRING)


def parse_main_cf(
    text: str, *, file: str = "main.cf", host: HostFacts | None = None, master: MasterCf | None = None
) -> MainCf:
    """Parse main.cf text: settings with their lines, every setting checked, and every warning postconf
    would print (syntax, undefined and unused parameters — judged against ``master``, else Debian's
    stock master.cf)."""
    settings: dict[str, Setting] = {}
    warnings: list[ConfigWarning] = []
    for logical in logical_lines(text):
        if logical.continued:
            warnings.append(ConfigWarning(file, None, f'logical line must not start with whitespace: "{logical.text}"'))
            continue
        try:
            name, value = split_nameval(logical.text)
        except ValueError as error:
            raise ConfigError(str(error), file=file, line=logical.line) from None
        earlier = settings.pop(name, None)
        if earlier is not None:
            warnings.append(ConfigWarning(file, logical.line, f"overriding earlier entry: {name}={earlier.value}"))
        settings[name] = Setting(name, value, file, logical.line)
    main = MainCf(MappingProxyType(settings), host or HostFacts(), file, tuple(warnings))
    main.validate()
    services = (master or parse_master_cf(DEFAULT_MASTER_CF)).services()
    return MainCf(main.settings, main.host, file, (*warnings, *usage_warnings(main, services)))
