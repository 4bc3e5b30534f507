"""A local simulator of the QuickBooks Online Accounting API v3 (reads, CDC, OAuth, limits, faults)."""

from .app import create_app
from .clock import SimClock
from .demo_company import DemoCompany, Tombstone
from .faults import FAULT_KINDS, FaultInjector
from .state import SimulatorState
from .throttle import ThrottleLimits

__all__ = ["FAULT_KINDS", "DemoCompany", "FaultInjector", "SimClock", "SimulatorState", "ThrottleLimits",
           "Tombstone", "create_app"]
