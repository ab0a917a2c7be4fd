"""L3: the seam between agents and engines: the virtual-time asyncio loop, the SMTP server factory and client."""

from mailsim.engine.bridge import event_from_awaitable, future_from_event
from mailsim.engine.simloop import SimLoop, current_host, host_context, spawn

__all__ = ["SimLoop", "current_host", "event_from_awaitable", "future_from_event", "host_context", "spawn"]
