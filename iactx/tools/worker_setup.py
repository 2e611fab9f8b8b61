"""Set-up of the worker processes of :func:`iactx.tools.production.process_files`' embedded cluster.

Loaded by each worker (dask's ``preload``) as it starts. Ctrl-C in the
terminal reaches the whole process group; the process that started the
cluster cancels the work and stops the workers, so the workers themselves
ignore SIGINT instead of each printing a traceback. dask's messages in the
worker go to the level ``IACTX_WORKER_LOG_LEVEL`` (set by the cluster).

The scheduler of the embedded cluster lives in that process, so a worker
fails to reach it only while the cluster shuts down: a worker busy with a
file can send its heartbeat after the scheduler closed, and the error dask
logs then, with a traceback, is dropped.
"""

import logging
import os
import signal

#: start of the message of dask's worker when a heartbeat finds the scheduler gone
HEARTBEAT_FAILURE = "Failed to communicate with scheduler during heartbeat"


def _not_a_heartbeat_failure(record):
    """``logging`` filter: False for the heartbeat failures of a worker whose scheduler has closed."""
    return not record.getMessage().startswith(HEARTBEAT_FAILURE)


def dask_setup(worker):
    """Called by dask in the worker process at start."""
    from .._numba import threads_sleep_between_kernels

    threads_sleep_between_kernels()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed").setLevel(os.environ.get("IACTX_WORKER_LOG_LEVEL", "WARNING"))
    logging.getLogger("distributed.worker").addFilter(_not_a_heartbeat_failure)
