"""Named, independent random streams derived from one seed.

Each component asks for its stream by name ("workload.example.org", "dns.mx-shuffle"); the stream
is derived from the run's seed and a stable digest of the name through ``numpy.random.SeedSequence``,
so adding a component (a new name) never shifts the numbers another component draws.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> tuple[int, ...]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4))


class RandomStreams:
    """A family of ``numpy.random.Generator`` objects keyed by name, all from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, name: str) -> np.random.Generator:
        """The generator for ``name``; the same object on every call within a run."""
        generator = self._streams.get(name)
        if generator is None:
            sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
            generator = np.random.Generator(np.random.PCG64(sequence))
            self._streams[name] = generator
        return generator

    def names(self) -> list[str]:
        return sorted(self._streams)
