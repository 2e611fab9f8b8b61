"""Set-up of the worker processes of :func:`iactx.tools.production.process_files`' embedded cluster.

Loaded by each worker (dask's ``preload``) as it starts. Ctrl-C in the
terminal reaches the whole process group; the process that started the
cluster cancels the work and stops the workers, so the workers themselves
ignore SIGINT instead of each printing a traceback. dask's messages in the
worker go to the level ``IACTX_WORKER_LOG_LEVEL`` (set by the cluster).
"""

import logging
import os
import signal


def dask_setup(worker):
    """Called by dask in the worker process at start."""
    from .._numba import threads_sleep_between_kernels

    threads_sleep_between_kernels()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed").setLevel(os.environ.get("IACTX_WORKER_LOG_LEVEL", "WARNING"))
