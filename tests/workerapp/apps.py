"""App config of the real-process test project: reports the worker start-up signals."""

import sys

from django.apps import AppConfig


def _report(name):
    def receiver(sender, **kwargs):
        # One write call, so a log line from another thread cannot land inside it.
        sys.stdout.write(f"signal {name} from {type(sender).__name__}\n")
        sys.stdout.flush()

    return receiver


class WorkerAppConfig(AppConfig):
    name = "tests.workerapp"
    default = True

    def ready(self):
        from channels_classic.signals import worker_process_ready, worker_ready

        # Kept on the instance: signals hold receivers weakly.
        self.receivers = (_report("worker_process_ready"), _report("worker_ready"))
        worker_process_ready.connect(self.receivers[0])
        worker_ready.connect(self.receivers[1])
