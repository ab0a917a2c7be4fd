"""L5: the simulated world on real sockets and the wall clock (``mailsim serve``)."""

from mailsim.live.realtime import RealtimeDriver
from mailsim.live.serve import BoundService, LiveServers, LiveService, serve

__all__ = ["BoundService", "LiveServers", "LiveService", "RealtimeDriver", "serve"]
