"""The Celery app the benchmark runs: one task that waits, computes and holds memory.

Each task adds one to a Redis counter when it finishes, so the benchmark
measures completed tasks without a result backend in the way. Long tasks
also record when they started (a hash entry while they run) and their span
(start and end, when done): for them the benchmark counts the part of each
task that fell in its window, not only whole completions.
"""

import os
import time

import redis
from celery import Celery

BROKER = os.environ.get('BENCH_BROKER_URL', 'redis://127.0.0.1:6390/0')
COUNTER = 'bench:done'
STARTS, SPANS = 'bench:starts', 'bench:spans'

app = Celery('bench_app', broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    task_default_queue='bench',
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
)
_client = None


def _redis():
    global _client  # one connection per process (prefork child or thread-shared)
    if _client is None:
        _client = redis.Redis.from_url(BROKER)
    return _client


def _started(task_id):
    begin = time.time()
    _redis().hset(STARTS, task_id, '%.6f' % begin)
    return begin


def _count(task_id, begin):
    if begin is None:
        _redis().incr(COUNTER)
        return
    pipe = _redis().pipeline(transaction=False)
    pipe.incr(COUNTER)
    pipe.hdel(STARTS, task_id)
    pipe.rpush(SPANS, '%.6f %.6f' % (begin, time.time()))
    pipe.execute()


def _spin(iterations):
    total = 0
    for i in range(iterations):
        total += i * i
    return total


@app.task(bind=True)
def work(self, iterations, wait_s, memory_mb=0, spans=False):
    """Waits half of wait_s, computes (pure Python: holds the GIL), waits the rest.

    With memory_mb, holds that much resident memory (every page touched) from
    before the compute part to the end of the task. With spans, records its
    start and span besides the count (long tasks only: in a threads pool each
    Redis call waits for the GIL again, which a 5 ms task would feel).
    """
    begin = _started(self.request.id) if spans else None
    time.sleep(wait_s / 2)
    held = bytearray(memory_mb * 1024 * 1024) if memory_mb else None
    if held is not None:
        for offset in range(0, len(held), 4096):
            held[offset] = 1
    _spin(iterations)
    time.sleep(wait_s / 2)
    del held
    _count(self.request.id, begin)
