"""postconf's usage checks: parameters referred to but never defined, and defined but never used.

Postfix knows its built-in parameters and, per master.cf, the service-defined ones
(``relay_destination_concurrency_limit`` when master.cf runs ``relay`` with a delivery agent).
Any other name is user-defined: it counts as used when a main.cf value, a master.cf ``-o`` value
or ``smtpd_restriction_classes`` refers to it; otherwise postconf warns ``FILE: unused parameter:
name=value`` (for main.cf settings and for ``-o`` names alike). A ``$name`` that nothing defines
gets ``FILE: undefined parameter: name``. Postfix prints these without a line number; the
:class:`~mailsim.config.maincf.Setting` still knows it.

Parameters read: smtpd_restriction_classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailsim.config.expand import references
from mailsim.config.parameters import PARAMETERS, service_parameters
from mailsim.config.syntax import ConfigWarning, split_list

if TYPE_CHECKING:
    from mailsim.config.maincf import MainCf
    from mailsim.config.mastercf import Service


def known_names(services: Sequence[Service]) -> set[str]:
    """Built-in names plus the service-defined names of these master.cf services."""
    return set(PARAMETERS) | set(service_parameters([(s.name, s.command) for s in services]))


def used_names(main: MainCf, services: Sequence[Service]) -> set[str]:
    """User-defined names (main.cf or ``-o``) that some value or restriction class refers to."""
    return _scan(main, services)[1]


def usage_warnings(main: MainCf, services: Sequence[Service]) -> list[ConfigWarning]:
    """Undefined-parameter warnings (in scan order), then unused-parameter warnings (in file order)."""
    undefined, used = _scan(main, services)
    known = known_names(services)
    unused = [
        ConfigWarning(setting.file, None, f"unused parameter: {name}={setting.value}")
        for name, setting in main.settings.items()
        if name not in known and name not in used and setting.file == main.file
    ]
    for service in services:
        for name, value in service.overrides:
            if name not in known and name not in used and name not in main.settings:
                unused.append(ConfigWarning(service.file, None, f"unused parameter: {name}={value}"))
    return [*undefined, *unused]


def _scan(main: MainCf, services: Sequence[Service]) -> tuple[list[ConfigWarning], set[str]]:
    """(undefined-parameter warnings, user-defined names referred to) over main.cf and master.cf values."""
    known = known_names(services)
    defined = set(main.settings) | {name for service in services for name, _ in service.overrides}
    sources = [(setting.file, setting.value) for setting in main.settings.values()]
    sources += [(service.file, value) for service in services for _, value in service.overrides]
    named = [(source, name) for source, value in sources for name in references(value)]
    if "smtpd_restriction_classes" in main.settings:
        named += [(main.file, name) for name in split_list(main.get("smtpd_restriction_classes"))]
    warnings: list[ConfigWarning] = []
    used: set[str] = set()
    undefined: set[str] = set()
    for source, name in named:
        if name in known:
            continue
        if name in defined:
            used.add(name)
        elif name not in undefined:
            undefined.add(name)
            warnings.append(ConfigWarning(source, None, f"undefined parameter: {name}"))
    return warnings, used
