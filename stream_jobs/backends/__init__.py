"""Message-bus backends: the interface, and the in-process bus of the embedded mode."""

from stream_jobs.backends.abstract import Consumer, Message, Producer
from stream_jobs.backends.memory import InMemoryBus, InMemoryConsumer

__all__ = ["Consumer", "InMemoryBus", "InMemoryConsumer", "Message", "Producer"]
