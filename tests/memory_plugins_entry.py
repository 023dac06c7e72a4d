"""Hook implementations of the in-memory test plugins as a module (for RELANCE_PLUGINS)."""

from hub.hookspecs import hookimpl
from tests.memory_plugins import CaptureChannel, IdempotentCaptureChannel, MemoryConnector


class OtherProcessMemoryConnector(MemoryConnector):
    """The memory ledger as seen from another process (a Celery worker): the ledger lives in
    the test's process, so an id this refresh does not find is not known to be gone."""

    refresh_lists_all = False


@hookimpl
def register_connectors(register):
    register(OtherProcessMemoryConnector)


@hookimpl
def register_channels(register):
    register(CaptureChannel)
    register(IdempotentCaptureChannel)
