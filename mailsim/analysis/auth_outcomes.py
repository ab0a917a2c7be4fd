"""The seed's forwarding story as one table: each variant of ``scenarios/seed-relay-spf`` run, and what happened.

Theory of operation
-------------------
A scenario folder may carry **variants**: ``variants/<name>/variant.toml`` (``description``, an
``order`` for the table, and ``extends`` naming another variant) plus only the files that differ
from the base folder, at the same relative paths (``hosts/mail-relay.atrust.com/main.cf``,
``zones/schweikert.ch.zone``, ...). :func:`materialize` writes a runnable folder: the base
(without ``variants/``), then each overlay of the ``extends`` chain, oldest first. ``diff -r`` of a
variant against the base shows exactly what a fix takes.

:func:`outcome_of` reads one run's trace for the scenario's first scripted message at the final
receiver: what opendmarc recorded (spf, dkim, dmarc, arc; these are the receiver's results), or,
when the message was refused before DATA, what policyd-spf said; the fate (``delivered``, ``spam``
- delivered with ``X-Spam-Flag: YES`` -, ``held``, ``rejected``, ``deferred``) with the reply; and
where a bounce went: the notice's recipient (the envelope sender the forwarder used: the original
sender, or an SRS address) and the mailbox it finally reached. :func:`auth_outcomes` runs every
variant and returns one row each.

Postfix parameters read: none (a view over runs).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mailsim.core.errors import ScenarioError
from mailsim.core.trace import TraceRecord
from mailsim.scenario.loader import load
from mailsim.scenario.runner import RunResult, run_scenario

VARIANTS = "variants"
SEED_SCENARIO = "seed-relay-spf"
RECEIVER = "mx.gmail.example"
RECIPIENT = "evi.nemeth@gmail.example"
COLUMNS = ["variant", "spf", "dkim", "dmarc", "arc", "fate", "reply", "spam", "bounce_to", "bounce_delivered_to"]
_QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")
_FORWARDED = re.compile(r"forwarded as ([0-9A-Za-z]+)")
_FINAL = frozenset({"local", "virtual", "pipe", "discard", "error"})


@dataclass(frozen=True, slots=True)
class Variant:
    """One variant of a scenario folder."""

    name: str
    description: str
    extends: str | None
    order: int
    folder: Path


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """One row of the outcome table (see the module docstring)."""

    variant: str
    spf: str
    dkim: str
    dmarc: str
    arc: str
    fate: str
    reply: str
    spam: str
    bounce_to: str
    bounce_delivered_to: str


def seed_scenario() -> Path:
    """``scenarios/seed-relay-spf`` in the working tree, else beside the package."""
    here = Path("scenarios") / SEED_SCENARIO
    if (here / "scenario.toml").is_file():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios" / SEED_SCENARIO


def list_variants(base: str | Path) -> list[Variant]:
    """The variants of a scenario folder in table order (``order``, then name)."""
    found = []
    for folder in sorted((Path(base) / VARIANTS).glob("*/variant.toml")):
        try:
            data = tomllib.loads(folder.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ScenarioError(str(error), file=str(folder)) from None
        found.append(Variant(folder.parent.name, str(data.get("description", "")), data.get("extends"),
                             int(data.get("order", 1000)), folder.parent))  # fmt: skip
    return sorted(found, key=lambda v: (v.order, v.name))


def _chain(variants: dict[str, Variant], name: str) -> list[Variant]:
    """The variant and the ones it extends, oldest first; unknown names and cycles are errors."""
    chain: list[Variant] = []
    current: str | None = name
    while current is not None:
        if current not in variants:
            raise ScenarioError(key="extends" if chain else "variant", expected="a variant in variants/",
                                found=current)  # fmt: skip
        if variants[current] in chain:
            raise ScenarioError(key="extends", expected="no cycle", found=" -> ".join(v.name for v in chain))
        chain.insert(0, variants[current])
        current = variants[current].extends
    return chain


def materialize(base: str | Path, name: str, out: str | Path) -> Path:
    """A runnable folder for variant ``name`` of ``base`` at ``out`` (see the module docstring)."""
    base, out = Path(base), Path(out)
    chain = _chain({v.name: v for v in list_variants(base)}, name)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out, ignore=shutil.ignore_patterns(VARIANTS))
    for variant in chain:
        for path in sorted(variant.folder.rglob("*")):
            if path.is_file() and path.name != "variant.toml":
                target = out / path.relative_to(variant.folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return out


def run_variant(
    base: str | Path, name: str, *, workdir: str | Path | None = None, seed: int | None = None
) -> RunResult:
    """Materialize and run one variant."""
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mailsim-variants-"))
    folder = materialize(base, name, root / name)
    return run_scenario(load(folder), seed=seed)


def auth_outcomes(
    base: str | Path | None = None,
    variants: Sequence[str] | None = None,
    *,
    receiver: str = RECEIVER,
    recipient: str = RECIPIENT,
    workdir: str | Path | None = None,
) -> pd.DataFrame:
    """Run every variant (or those named) and tabulate the outcome: one row per variant, :data:`COLUMNS`."""
    base = Path(base) if base is not None else seed_scenario()
    names = list(variants) if variants is not None else [v.name for v in list_variants(base)]
    rows = []
    for name in names:
        result = run_variant(base, name, workdir=workdir)
        rows.append(asdict(outcome_of(result, name, receiver=receiver, recipient=recipient)))
    return pd.DataFrame(rows, columns=COLUMNS)


def outcome_of(result: RunResult, variant: str, *, receiver: str = RECEIVER, recipient: str = RECIPIENT) -> AuthOutcome:
    """What the receiver decided about the scenario's first scripted message, and where a bounce went."""
    records = _window(result)
    mid = next((r.message_id for r in records if r.service == "ua" and r.event == "submit"), None)
    at_receiver = [r for r in records if r.host == receiver]
    dmarc = _last(r for r in at_receiver if r.service == "opendmarc" and r.message_id == mid)
    spam = _last(r for r in at_receiver if r.service == "spamass-milter" and r.message_id == mid)
    if dmarc is not None:
        spf, dkim, dmarc_result, arc = (str(dmarc.get(k, "none")) for k in ("spf", "dkim", "dmarc", "arc"))
    else:
        policy = _last(r for r in at_receiver if r.event == "policy")
        spf = str(policy.get("spf", "none")) if policy is not None else "-"
        dkim = dmarc_result = arc = "-"
    fate, reply = _fate(records, at_receiver, mid, recipient, spam)
    bounce_to, delivered_to = _bounce(records, result.world.sim.trace)
    spam_text = f"{spam.get('spam')} ({spam.get('spam_score')})" if spam is not None else "-"
    return AuthOutcome(variant, spf, dkim, dmarc_result, arc, fate, reply, spam_text, bounce_to, delivered_to)


def _window(result: RunResult) -> list[TraceRecord]:
    """Records from the first scripted message's time until the next one's (the rest of the run if none)."""
    times = sorted(m.at for m in result.spec.messages)
    start = times[0] if times else 0.0
    end = times[1] if len(times) > 1 else math.inf
    return [r for r in result.world.sim.trace if start <= r.time < end]


def _last(records: Iterable[TraceRecord]) -> TraceRecord | None:
    found = None
    for record in records:
        found = record
    return found


def _fate(
    records: list[TraceRecord], at_receiver: list[TraceRecord], mid: str | None, recipient: str,
    spam: TraceRecord | None,
) -> tuple[str, str]:  # fmt: skip
    """(fate, reply) of the message at the receiver."""
    for record in at_receiver:
        if record.service == "smtpd" and record.event == "reject":
            return "rejected", str(record.get("reply", ""))
        text = str(record.get("text", "")) if record.service == "cleanup" and record.event == "action" else ""
        if text.startswith("milter-reject"):
            return "rejected", text.split(": ", 2)[-1].split("; from=")[0]
        if text.startswith("milter-hold"):
            return "held", text.split(": ", 2)[-1].split("; from=")[0]
    for record in at_receiver:
        final = record.event == "delivery" and record.service in _FINAL and record.get("to") == recipient
        if final and record.get("status") == "sent":
            flagged = spam is not None and spam.get("spam") == "yes"
            return ("spam" if flagged else "delivered"), str(record.get("text", ""))
    deferred = [r for r in records if r.event == "delivery" and r.get("status") == "deferred"]
    if deferred:
        return "deferred", str(deferred[-1].get("text", ""))
    return "unknown", ""


def _bounce(records: list[TraceRecord], trace: Iterable[TraceRecord]) -> tuple[str, str]:
    """(the bounce's recipient, the mailbox it reached) for the first bounce notice, ``-`` without one."""
    notice = next((r for r in records if r.service == "bounce" and r.event == "notice"), None)
    if notice is None or not notice.get("new_queue_id"):
        return "-", "-"
    return str(notice.get("recipient", "")), _final_delivery(list(trace), notice.host, str(notice.get("new_queue_id")))


def _final_delivery(trace: list[TraceRecord], host: str, queue_id: str, depth: int = 0) -> str:
    """Follow a queue id through ``queued as``/``forwarded as`` hops to a final delivery: ``to@host``."""
    for record in trace:
        if record.event != "delivery" or record.host != host or record.queue_id != queue_id or depth > 10:
            continue
        text = str(record.get("text", ""))
        if record.service in _FINAL:
            forwarded = _FORWARDED.search(text)
            if forwarded is None:
                return f"{record.get('to')} ({record.get('status')} at {host})"
            return _final_delivery(trace, host, forwarded.group(1), depth + 1)
        queued = _QUEUED.search(text)
        relay = str(record.get("relay", "")).split("[", 1)[0]
        if queued is not None and relay:
            return _final_delivery(trace, relay, queued.group(1), depth + 1)
        return f"{record.get('to')} ({record.get('status')} at {host})"
    return "-"


def table_text(frame: pd.DataFrame) -> str:
    """The outcome table as fixed-width text (for the terminal and docs)."""
    return str(frame[[c for c in COLUMNS if c != "reply"]].to_string(index=False))


_COLOURS = {"pass": "#7fc97f", "delivered": "#7fc97f", "fail": "#f0027f", "rejected": "#f0027f",
            "none": "#dddddd", "-": "#dddddd", "spam": "#fdc086", "held": "#fdc086", "deferred": "#fdc086",
            "softfail": "#fdc086", "neutral": "#dddddd", "temperror": "#fdc086", "permerror": "#f0027f"}  # fmt: skip


def outcome_figure(frame: pd.DataFrame, *, columns: Sequence[str] = ("spf", "dkim", "dmarc", "arc", "fate")) -> Figure:
    """The outcome table as a colour grid: one row per variant, green = pass/delivered, red = fail/rejected."""
    fig = Figure(figsize=(1.6 * len(columns) + 2.5, 0.5 * len(frame) + 1.2))
    ax = fig.add_subplot()
    for row, (_, record) in enumerate(frame.iterrows()):
        for col, name in enumerate(columns):
            value = str(record[name])
            colour = _COLOURS.get(value.split()[0].split("(")[0].lower(), "#eeeeee")
            ax.add_patch(Rectangle((col, row), 0.96, 0.9, color=colour))
            ax.text(col + 0.48, row + 0.45, value if len(value) < 22 else value[:20] + "…", ha="center",
                    va="center", fontsize=8)  # fmt: skip
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(frame), 0)
    ax.set_xticks([c + 0.48 for c in range(len(columns))], [c.upper() for c in columns])
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.45 for r in range(len(frame))], list(frame["variant"]))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title("What the receiver decided, per variant of the seed's forwarding story", pad=24)
    return fig
