"""The main.cf parameters mailsim knows: kind and one line of documentation each (data, not code).

Two tables, kept as text in ``data/``. ``MODELLED`` (``parameters-modelled.txt``): the parameters
mailsim reads and acts on (a test holds every name to code that reads it). ``CHECKED``
(``parameters-checked.txt``): parameters mailsim knows but does not act on; their values are checked as
Postfix would (a bad time or size is an error), but setting them changes nothing in a simulation.

One line per parameter: ``name  kind  doc``. Kinds: time (a number with an optional unit s, m, h, d,
w; a bare number takes the unit of the Postfix default, so ``maximal_queue_lifetime = 3`` means 3
days), size and int (plain decimal numbers; Postfix takes no units here), bool (yes/no), list
(comma/whitespace list with ``{}`` grouping), maps (a list of ``type:name`` tables) and string.
Defaults are not repeated here: they come from :mod:`mailsim.config.postfix_defaults`, the one
snapshot of Postfix 3.7's own table. Grouped by the daemon that reads them.
"""

from __future__ import annotations

from importlib.resources import files


def _table(name: str) -> str:
    return files("mailsim.config").joinpath(f"data/parameters-{name}.txt").read_text(encoding="utf-8")


MODELLED = _table("modelled")
CHECKED = _table("checked")
