"""Three kinds of task: I/O-bound, CPU-bound and trivial."""

import os
import time
import uuid

import redis
from celery import current_task

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
# When each tick ran (the last 1000): the fault tests look for doubled or
# skipped periodic runs around a beat restart.
TICK_TIMES_KEY = "celeryops_demo:tick_times"
# How many times each `record` token ran: lost = 0, duplicated = more than 1.
RUNS_KEY = "celeryops_demo:runs"


def redis_url(environ=None):
    """The Redis the demo counts in: the broker when it is Redis, else the
    result backend (a RabbitMQ broker with a Redis result backend)."""
    environ = os.environ if environ is None else environ
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        url = environ.get(name, "").split(";", 1)[0].strip()
        if url.startswith(("redis://", "rediss://")):
            return url
    raise RuntimeError("the demo counts in Redis: CELERY_BROKER_URL or CELERY_RESULT_BACKEND must be redis://")


def _redis():
    return redis.Redis.from_url(redis_url())


@app.task
def tick():
    """Periodic task (beat): add one to a counter in the broker's Redis."""
    client = _redis()
    try:
        pipe = client.pipeline()
        pipe.incr(TICK_KEY)
        pipe.rpush(TICK_TIMES_KEY, "%.3f" % time.time())
        pipe.ltrim(TICK_TIMES_KEY, -1000, -1)
        return pipe.execute()[0]
    finally:
        client.close()


# Each attempt of a `record` task: "start|token|node|pid|time|attempt" when
# it begins, "end|...|attempt" when it ends (the last 20000; `attempt` pairs
# the two). The fault tests tell a task that was running when its worker was
# killed or stopped from one that had not started, and see its redelivery.
ATTEMPTS_KEY = "celeryops_demo:attempts"


def _attempt(client, what, token, attempt):
    # current_task: the task running in this thread, record or outgrow.
    line = "%s|%s|%s|%d|%.3f|%s" % (what, token, current_task.request.hostname or "", os.getpid(), time.time(),
                                    attempt)
    pipe = client.pipeline()
    pipe.rpush(ATTEMPTS_KEY, line)
    pipe.ltrim(ATTEMPTS_KEY, -20000, -1)
    pipe.execute()


def _recorded_run(token, seconds, before=None):
    """One attempt of a fault-test task: `before()` (if any), work `seconds`,
    count one run of `token`; both ends noted in ATTEMPTS_KEY."""
    client = _redis()
    attempt = uuid.uuid4().hex
    try:
        _attempt(client, "start", token, attempt)
        if before:
            before(client)
        time.sleep(float(seconds))
        runs = client.hincrby(RUNS_KEY, token, 1)
        _attempt(client, "end", token, attempt)
        return runs
    finally:
        client.close()


@app.task
def record(token, seconds=1.0):
    """Fault-test task: works `seconds`, then counts one run of `token`."""
    return _recorded_run(token, seconds)


# Tokens whose `outgrow` task already ran once (the first attempt is the one
# that takes the memory).
OUTGROWN_KEY = "celeryops_demo:outgrown"


@app.task
def outgrow(token, megabytes=0, seconds=0.5):
    """Fault-test task: its first attempt holds `megabytes` of memory, more
    than its container may use, so the kernel kills the worker (an OOM kill);
    a redelivery of the same message then works `seconds` and counts one run
    of `token`, as `record` does."""

    def first_takes_memory(client):
        if client.hsetnx(OUTGROWN_KEY, token, "%.3f" % time.time()):
            # Written, not just reserved: untouched pages would not count.
            held = bytearray(b"\x01") * (int(megabytes) * 1024 * 1024)
            time.sleep(60)
            del held

    return _recorded_run(token, seconds, first_takes_memory)
