"""A run's tables written while it runs: for days of traffic, where keeping every trace record would not fit.

Why: a million-message day leaves some 27 million trace records (gigabytes in memory). A streamed run keeps
none: each record goes through the row functions of :mod:`mailsim.analysis.frames` (``messages``,
``deliveries``, ``queues``, ``utilisation``) and the row is written to CSV at once, the maillog line by line.
What stays in memory is the messages join's entry per Message-ID (submission time, sender, hosts that
queued it: a few hundred bytes a message), the latency of each delivered recipient (8 bytes) and the
hardware samples. Not written: the ``trace``, ``sessions``, ``transcripts``, ``dns`` and ``net`` tables
(they need the records themselves: run without streaming for them).
"""

from __future__ import annotations

import csv
from array import array
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from mailsim.analysis.frames import (
    DELIVERY_COLUMNS,
    MESSAGE_COLUMNS,
    QUEUE_COLUMNS,
    UTILISATION_COLUMNS,
    MessageJoin,
    QueueDepths,
    delivery_row,
    utilisation_row,
)
from mailsim.analysis.maillog import maillog_line
from mailsim.analysis.metrics import utilisation
from mailsim.analysis.plots import standard_figures
from mailsim.core.trace import TraceRecord

TABLES = {"messages": MESSAGE_COLUMNS, "deliveries": DELIVERY_COLUMNS, "queues": QUEUE_COLUMNS,
          "utilisation": UTILISATION_COLUMNS}  # fmt: skip


class StreamedViews:
    """A trace sink writing ``out/{messages,deliveries,queues,utilisation}.csv`` and ``out/maillog`` live."""

    def __init__(self, out: Path, epoch: datetime, *, maillog: bool = True) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.epoch = out, epoch
        self._handles: list[IO[str]] = []
        self._writers = {name: self._table(name, columns) for name, columns in TABLES.items()}
        self._maillog = (out / "maillog").open("w", encoding="utf-8") if maillog else None
        self._join, self._depths = MessageJoin(), QueueDepths()
        self.records = 0
        self.statuses: Counter[str] = Counter()
        self.latencies = array("d")  # of the recipients delivered ("sent"), for the percentiles
        self.samples: list[TraceRecord] = []  # hardware samples: one per host resource and interval

    def _table(self, name: str, columns: list[str]) -> Any:
        handle = (self.out / f"{name}.csv").open("w", newline="", encoding="utf-8")
        self._handles.append(handle)
        writer = csv.writer(handle)
        writer.writerow(columns)
        return writer

    def __call__(self, record: TraceRecord) -> None:
        self.records += 1
        writers = self._writers
        row = self._join.feed(record)
        if row is not None:
            writers["messages"].writerow(row)
            self.statuses[row[4]] += 1
            if row[4] == "sent":
                self.latencies.append(row[9])
        if record.event == "delivery":
            writers["deliveries"].writerow(delivery_row(record))
        elif record.event == "queue":
            writers["queues"].writerows(self._depths.feed(record))
        elif record.event == "sample" and record.service == "resource":
            writers["utilisation"].writerow(utilisation_row(record))
            self.samples.append(record)
        if self._maillog is not None:
            line = maillog_line(record, self.epoch)
            if line is not None:
                self._maillog.write(line + "\n")

    def close(self, *, plots: bool = True) -> list[Path]:
        """Flush and close every file; with ``plots`` the standard figures from the tables written."""
        for handle in self._handles:
            handle.close()
        written = [self.out / f"{name}.csv" for name in TABLES]
        if self._maillog is not None:
            self._maillog.close()
            written.append(self.out / "maillog")
        if plots:
            frames = {name: pd.read_csv(self.out / f"{name}.csv") for name in ("messages", "queues")}
            for name, figure in standard_figures(frames).items():
                path = self.out / f"{name}.png"
                figure.savefig(path, dpi=110, bbox_inches="tight")
                written.append(path)
        return written

    def summary_lines(self, until: float) -> list[str]:
        """Outcomes per status, latency percentiles and utilisation, as a kept trace's summary has them."""
        if not self.statuses:
            return ["no message reached a final state"]
        lines = ["final recipients by status: " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items()))]
        if self.latencies:
            p50, p90, p99 = np.quantile(np.frombuffer(self.latencies, dtype=float), [0.5, 0.9, 0.99])
            lines.append(f"delivery latency (s): p50={p50:.3f} p90={p90:.3f} p99={p99:.3f}")
        if self.samples:
            table = utilisation(self.samples, end=until)
            for host, part in table.groupby("host", sort=True):
                shares = ", ".join(f"{row.resource} {row.utilisation:.0%}" for row in part.itertuples())
                lines.append(f"utilisation on {host}: {shares}")
        return lines
