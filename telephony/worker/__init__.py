"""The telephony worker: asyncio orchestration of the RingCentral stream,
the live model, resyncs, supervisors' commands and upkeep. The only holder
of the RingCentral session; never imports the dashboard."""

from telephony.worker.worker import TelephonyWorker

__all__ = ["TelephonyWorker"]
