"""Three kinds of task: I/O-bound, CPU-bound and trivial."""

import os
import time

import redis

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


TICK_KEY = "celeryops_demo:ticks"


@app.task
def tick():
    """Periodic task (beat): add one to a counter in the broker's Redis."""
    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    try:
        return client.incr(TICK_KEY)
    finally:
        client.close()
