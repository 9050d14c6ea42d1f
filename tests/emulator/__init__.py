"""A Bot API emulator for tests and benchmarks."""

from tests.emulator.core import Arrival, Emulator, Fault, FaultKind
from tests.emulator.transport import EmulatorTransport, emulator_request

__all__ = ["Arrival", "Emulator", "EmulatorTransport", "Fault", "FaultKind", "emulator_request"]
