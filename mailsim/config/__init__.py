"""Postfix-style configuration: main.cf, master.cf, lookup tables and aliases files, parsed once.

Layer L1: imports only :mod:`mailsim.core`. Everything here is pure parsing and lookup over text
a scenario host ships; nothing reads the real machine. Start with :func:`load_config` for a host
folder, or :func:`parse_main_cf` / :func:`parse_master_cf` / :func:`open_table` for pieces.
"""

from __future__ import annotations

from mailsim.config.aliases import AliasEntry, AliasTable, parse_aliases
from mailsim.config.expand import ExpandError, expand
from mailsim.config.hostfacts import HostFacts
from mailsim.config.loader import HostConfig, load_config
from mailsim.config.lookups import Match, address_keys, lookup_address, lookup_client, lookup_domain, split_address
from mailsim.config.maincf import MainCf, Setting, parse_main_cf
from mailsim.config.mastercf import DEFAULT_MASTER_CF, MasterCf, Service, parse_master_cf
from mailsim.config.parameters import (
    PARAMETERS,
    Kind,
    Parameter,
    checked_parameters,
    lookup_parameter,
    modelled_parameters,
)
from mailsim.config.syntax import ConfigWarning
from mailsim.config.tables import Table, TableEntry, TableFailure, open_table, open_tables, resolve_path
from mailsim.config.tools import (
    postalias_query,
    postconf,
    postmap_query,
    run_postalias,
    run_postconf,
    run_postmap,
)

__all__ = [
    "DEFAULT_MASTER_CF",
    "PARAMETERS",
    "AliasEntry",
    "AliasTable",
    "ConfigWarning",
    "ExpandError",
    "HostConfig",
    "HostFacts",
    "Kind",
    "MainCf",
    "MasterCf",
    "Match",
    "Parameter",
    "Service",
    "Setting",
    "Table",
    "TableEntry",
    "TableFailure",
    "address_keys",
    "checked_parameters",
    "expand",
    "load_config",
    "lookup_address",
    "lookup_client",
    "lookup_domain",
    "lookup_parameter",
    "modelled_parameters",
    "open_table",
    "open_tables",
    "parse_aliases",
    "parse_main_cf",
    "parse_master_cf",
    "postalias_query",
    "postconf",
    "postmap_query",
    "resolve_path",
    "run_postalias",
    "run_postconf",
    "run_postmap",
    "split_address",
]
