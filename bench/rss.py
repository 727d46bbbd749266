"""Peak resident memory of the bench process, and of it with its direct children, sampled
by a thread while a run goes on (bench/ingest.py, bench/ray_ingest.py).

Sampled, not read from ru_maxrss: a forked child's ru_maxrss counts the parent's pages
from before exec. Sampling often disturbs what is measured (the embedding shares the
cores), so once every `interval` seconds.
"""

from __future__ import annotations

import contextlib
import threading

import psutil


class PeakRss(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_main = self.peak_total = 0
        self._halt = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._halt.wait(self.interval):
            main = me.memory_info().rss
            total = main
            for child in me.children():  # the parser processes are direct children
                with contextlib.suppress(psutil.Error):  # a child may exit between the calls
                    total += child.memory_info().rss
            self.peak_main, self.peak_total = max(self.peak_main, main), max(self.peak_total, total)

    def stop(self) -> tuple[float, float]:
        """(this process's peak, its peak with its children), in MB."""
        self._halt.set()
        self.join()
        return round(self.peak_main / 2**20, 1), round(self.peak_total / 2**20, 1)
