"""Scheduled sends: times and zones, one claimed send from check to verdict, and the long-running
scheduler process that keeps APScheduler in step with the ``scheduled_sends`` table."""

from .runner import Outcome, issue_name, run_claimed
from .service import Scheduler

__all__ = ["Outcome", "Scheduler", "issue_name", "run_claimed"]
