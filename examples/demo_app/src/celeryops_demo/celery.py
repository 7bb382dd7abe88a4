"""The demo app. Deploy with ``celery_app_module: celeryops_demo.celery:app``.

The broker and result backend come from the standard ``CELERY_BROKER_URL``
and ``CELERY_RESULT_BACKEND`` environment variables, which Celery reads by
itself: the app holds no connection string and no secret.
"""

import os

from celery import Celery

app = Celery("celeryops_demo", include=["celeryops_demo.tasks"])
app.conf.update(
    # Each kind of task has its own queue, so each can get its own worker group.
    task_routes={
        "celeryops_demo.tasks.io_sleep": {"queue": "io"},
        "celeryops_demo.tasks.cpu_loop": {"queue": "cpu"},
    },
    task_default_queue="celery",
    # Store which node ran a task (AsyncResult.worker): the tests use it to
    # prove a task ran on a node of the right group.
    result_extended=True,
    result_expires=3600,
    # task_acks_late and task_reject_on_worker_lost are left to the
    # deployment (celery_worker_acks_late, celery_worker_reject_on_worker_lost):
    # the tests prove the collection sets them without any app change.
    broker_connection_retry_on_startup=True,
    worker_send_task_events=True,
    task_send_sent_event=True,
    timezone="UTC",
    # Beat's work: `tick` every CELERYOPS_DEMO_TICK_SECONDS (default 2 s). It
    # counts in Redis, so a test sees the schedule fire (and not fire twice).
    beat_schedule={
        "tick": {
            "task": "celeryops_demo.tasks.tick",
            "schedule": float(os.environ.get("CELERYOPS_DEMO_TICK_SECONDS", "2")),
        },
    },
)
