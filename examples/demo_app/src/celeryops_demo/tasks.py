"""Three kinds of task: I/O-bound, CPU-bound and trivial."""

import time

from .celery import app


@app.task
def add(x, y):
    """Trivial task: the smallest round trip through broker, worker and backend."""
    return x + y


@app.task
def io_sleep(seconds=0.02):
    """I/O-bound stand-in: waits without using the CPU; returns the time slept."""
    time.sleep(float(seconds))
    return float(seconds)


@app.task
def cpu_loop(iterations=200_000):
    """CPU-bound stand-in: a pure-Python loop that holds the GIL.

    Returns the sum of squares below ``iterations`` so callers can check it.
    """
    total = 0
    for i in range(int(iterations)):
        total += i * i
    return total
