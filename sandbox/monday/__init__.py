"""A local simulator of the monday.com GraphQL API v2 (versioned SDL, paging, budgets, faults)."""

from .app import create_app
from .clock import SimClock
from .faults import FAULT_KINDS, FaultInjector
from .limits import PLANS, PlanLimits
from .model import MondayAccount
from .state import MondayState
from .versions import CURRENT_VERSION

__all__ = ["CURRENT_VERSION", "FAULT_KINDS", "PLANS", "FaultInjector", "MondayAccount", "MondayState", "PlanLimits",
           "SimClock", "create_app"]
