"""A dask worker plugin that kills its worker process, for the fault tests of a production."""

import os
from pathlib import Path

from distributed import WorkerPlugin


class KillWhenStarting(WorkerPlugin):
    """Kill the worker (``os._exit``) when a task whose key contains ``target`` starts.

    Each kill leaves a file in ``marks``; after ``times`` kills the task runs.
    """

    name = "kill-when-starting"

    def __init__(self, target, marks, times):
        self.target, self.marks, self.times = target, str(marks), times

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or self.target not in str(key):
            return
        marks = Path(self.marks)
        done = len(list(marks.glob("kill-*")))
        if done < self.times:
            (marks / f"kill-{done}").touch()
            os._exit(1)
