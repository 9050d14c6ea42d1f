"""A Bot API emulator for tests and benchmarks."""

from tests.emulator.core import DELETE_WINDOW, Arrival, Emulator, Fault, FaultKind
from tests.emulator.transport import EmulatorTransport, emulator_request

__all__ = [
    "DELETE_WINDOW",
    "Arrival",
    "Emulator",
    "EmulatorTransport",
    "Fault",
    "FaultKind",
    "emulator_request",
]
