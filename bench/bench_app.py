"""The Celery app the benchmark runs: three task profiles that count in Redis.

Each task adds one to a Redis counter when it finishes, so the benchmark
measures completed tasks without a result backend in the way.
"""

import os
import time

import redis
from celery import Celery

BROKER = os.environ.get('BENCH_BROKER_URL', 'redis://127.0.0.1:6390/0')
COUNTER = 'bench:done'

app = Celery('bench_app', broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    task_default_queue='bench',
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
)
_client = None


def _count():
    global _client  # one connection per process (prefork child or thread-shared)
    if _client is None:
        _client = redis.Redis.from_url(BROKER)
    _client.incr(COUNTER)


def _spin(iterations):
    total = 0
    for i in range(iterations):
        total += i * i
    return total


@app.task
def io_task(seconds):
    """I/O-bound: waits without the CPU."""
    time.sleep(seconds)
    _count()


@app.task
def cpu_task(iterations):
    """CPU-bound: pure Python, holds the GIL."""
    _spin(iterations)
    _count()


@app.task
def mixed_task(seconds, iterations):
    """Half waiting, half computing."""
    time.sleep(seconds)
    _spin(iterations)
    _count()
