"""A host's configuration folder read as one object: main.cf judged against its own master.cf.

``load_config(folder, host)`` reads ``master.cf`` first (Debian's stock file when there is none)
and then ``main.cf`` (empty when there is none), so that main.cf's warnings — Postfix's syntax
warnings and its undefined/unused parameter warnings (:mod:`mailsim.config.usage`) — know which
service-defined parameters and ``-o`` overrides exist. ``-c DIR`` of the admin tools counts as an
explicit ``config_directory = DIR``, as it does for postconf.

Parameters read: config_directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailsim.config.hostfacts import HostFacts
from mailsim.config.maincf import MainCf, parse_main_cf
from mailsim.config.mastercf import DEFAULT_MASTER_CF, MasterCf, parse_master_cf
from mailsim.config.syntax import ConfigWarning
from mailsim.config.usage import known_names, used_names


@dataclass(frozen=True, slots=True)
class HostConfig:
    """main.cf and master.cf of one host, and every warning Postfix would print about them."""

    main: MainCf
    master: MasterCf
    folder: Path | None = None

    @property
    def warnings(self) -> tuple[ConfigWarning, ...]:
        """main.cf's warnings (syntax and usage) after master.cf's own."""
        return (*self.master.warnings, *self.main.warnings)

    def parameter_names(self) -> set[str]:
        """Every name postconf would list: built-in, service-defined, and used user-defined ones."""
        services = self.master.services()
        return known_names(services) | (used_names(self.main, services) & set(self.main.settings))

    def service_main_cf(self, name: str, type: str | None = None) -> MainCf:
        """The main.cf a master.cf service runs with (its ``-o`` overrides applied)."""
        service = self.master.service(name, type)
        return service.main_cf(self.main) if service else self.main


def load_config(
    folder: str | Path, host: HostFacts | None = None, *, config_directory: str | None = None
) -> HostConfig:
    """Read ``folder/master.cf`` and ``folder/main.cf``; ConfigError for malformed lines or values."""
    folder = Path(folder)
    main_path, master_path = folder / "main.cf", folder / "master.cf"
    master_text = master_path.read_text(encoding="utf-8") if master_path.exists() else DEFAULT_MASTER_CF
    master = parse_master_cf(master_text, file=str(master_path))
    main_text = main_path.read_text(encoding="utf-8") if main_path.exists() else ""
    main = parse_main_cf(main_text, file=str(main_path), host=host, master=master)
    if config_directory is not None:
        main = main.with_overrides({"config_directory": config_directory}, file=str(main_path))
    return HostConfig(main, master, folder)
