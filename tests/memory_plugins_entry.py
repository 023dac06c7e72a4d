"""Hook implementations of the in-memory test plugins as a module (for RELANCE_PLUGINS)."""

from hub.hookspecs import hookimpl
from tests.memory_plugins import CaptureChannel, IdempotentCaptureChannel, MemoryConnector


@hookimpl
def register_connectors(register):
    register(MemoryConnector)


@hookimpl
def register_channels(register):
    register(CaptureChannel)
    register(IdempotentCaptureChannel)
