"""L0: the simulation kernel (no mail knowledge): Simulation, random streams, trace, units, errors."""

from mailsim.core.errors import ConfigError, MailsimError, ScenarioError, SimulationError
from mailsim.core.rng import RandomStreams
from mailsim.core.simulation import Simulation
from mailsim.core.trace import Trace, TraceRecord
from mailsim.core.units import parse_bandwidth, parse_duration, parse_rate, parse_size

__all__ = [
    "ConfigError",
    "MailsimError",
    "RandomStreams",
    "ScenarioError",
    "Simulation",
    "SimulationError",
    "Trace",
    "TraceRecord",
    "parse_bandwidth",
    "parse_duration",
    "parse_rate",
    "parse_size",
]
