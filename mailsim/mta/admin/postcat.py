"""postcat(1) ``-q``: a queue file of a host as Postfix 3.7's postcat prints it.

The full listing is :func:`mailsim.mail.postcat.render_postcat` (envelope records, contents,
extracted records, end marker) in the run's calendar. ``-e``, ``-h`` and ``-b`` select the
envelope (with all the section markers), the header and the body; with ``-h`` or ``-b`` alone no
markers are printed, and the body starts with the empty line that ends the header, as Postfix
prints them. Without any of the three the listing is complete (``-ehb``). An unknown queue id is
Postfix's fatal ``open queue file ID: No such file or directory`` (exit 1). A file damaged on
"disk" (``QueueDirectory.damaged``) is shown as far as it can be read, with the CORRUPT marker.
"""

from __future__ import annotations

import getopt
import re
from collections.abc import Sequence
from typing import Any

from mailsim.config.tools import ToolResult
from mailsim.mail.postcat import queue_path, render_postcat

USAGE = (
    "usage: postcat [-b (body text)] [-c config_dir] [-d (decimal record type)] [-e (envelope records)] "
    "[-h (header text)] [-q (access queue)] [-v] [file(s)...]"
)
_HEADER = re.compile(r"[!-9;-~]+:")


def _sections(text: str, path: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(envelope lines, header lines, body lines, trailer lines) of a full listing."""
    lines = text.splitlines()
    start = lines.index(f"*** MESSAGE CONTENTS {path} ***") if f"*** MESSAGE CONTENTS {path} ***" in lines else None
    if start is None:
        return lines, [], [], []
    end = len(lines)
    for marker in (f"*** HEADER EXTRACTED {path} ***", f"*** MESSAGE FILE END {path} ***"):
        if marker in lines[start:]:
            end = start + lines[start:].index(marker)
            break
    content = lines[start + 1 : end]
    split = 0
    while (
        split < len(content)
        and content[split]
        and (_HEADER.match(content[split]) or (split and content[split][0] in " \t"))
    ):
        split += 1
    return lines[: start + 1], content[:split], content[split:], lines[end:]


def postcat_text(host: Any, queue_id: str, *, envelope: bool = True, header: bool = True, body: bool = True) -> str:
    """The postcat listing of one queue file of ``host`` now; KeyError when there is no such file."""
    qf = host.queue.get(queue_id)
    if qf is None:
        raise KeyError(queue_id)
    damaged = getattr(host.queue, "damaged", {}).get(queue_id)  # a file cut short shows up to the damage
    full = render_postcat(qf if damaged is None else damaged, state=qf.state, epoch=host.sim.epoch)
    if envelope and header and body:
        return full
    head, headers, content, tail = _sections(full, queue_path(queue_id, qf.state))
    out: list[str] = []
    if envelope:
        out += head
    if header:
        out += headers
    if body:
        out += content
    if envelope:
        out += tail
    return "".join(line + "\n" for line in out)


def run_postcat(host: Any, argv: Sequence[str]) -> ToolResult:
    """postcat(1) over ``host``: ``-q`` with queue ids, and ``-e``/``-h``/``-b``; ``-c DIR`` is accepted."""
    try:
        opts, args = getopt.gnu_getopt(list(argv), "bc:dehoqv")
    except getopt.GetoptError as error:
        what = "option requires an argument" if "requires" in error.msg else "invalid option"
        return ToolResult(1, "", f"postcat: {what} -- '{error.opt}'\npostcat: fatal: {USAGE}\n")
    flags = {flag[1] for flag, _ in opts}
    if "q" not in flags:
        return ToolResult(1, "", "postcat: fatal: reading queue files by path is not modelled: use -q QUEUEID\n")
    parts = flags & {"e", "h", "b"} or {"e", "h", "b"}
    out: list[str] = []
    for queue_id in args:
        try:
            out.append(postcat_text(host, queue_id, envelope="e" in parts, header="h" in parts, body="b" in parts))
        except KeyError:
            stderr = f"postcat: fatal: open queue file {queue_id}: No such file or directory\n"
            return ToolResult(1, "".join(out), stderr)
    return ToolResult(0, "".join(out), "")
