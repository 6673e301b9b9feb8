"""Send workers: ``newsletter worker`` processes on any number of machines sharing one PostgreSQL
store drain the issues that ``newsletter send ISSUE --workers`` planned. See :mod:`.worker` and
:mod:`.drain`; their SQL is in :mod:`newsletter.store.workers`."""

from .drain import send_with_workers
from .worker import Worker, WorkerLost, WorkerStats, run_worker

__all__ = ["Worker", "WorkerLost", "WorkerStats", "run_worker", "send_with_workers"]
