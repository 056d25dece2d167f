"""The consumer runner and what services register with it (see ``runner`` for how a poll is applied).

Parts: ``handlers`` (Handler, Batched, PermanentError: the API a service's reactions use),
``items`` (a polled record's progress, retryable failures, runs of one batched handler),
``runner`` (ConsumerRunner: the group, the inbox, the careful rounds, the DLQ).
"""

from tessera_shared.consumer.handlers import Batched, Handler, PermanentError
from tessera_shared.consumer.runner import POLL_RECORDS, ROUND_RECORDS, ConsumerRunner

__all__ = ["POLL_RECORDS", "ROUND_RECORDS", "Batched", "ConsumerRunner", "Handler", "PermanentError"]
