"""Query plans: typed models, loading with file:line errors, checks against a mapping."""

from .loader import PlanError, PlanSource, load_plan, load_plan_with_positions, plan_source
from .models import Plan

__all__ = [
    "Plan",
    "PlanError",
    "PlanSource",
    "load_plan",
    "load_plan_with_positions",
    "plan_source",
]
