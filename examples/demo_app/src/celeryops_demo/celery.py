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
    # Do not lose a task when a worker dies mid-task: acknowledge after the
    # task finishes and requeue it when the child process is killed.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_connection_retry_on_startup=True,
    # A message a dead worker had taken comes back after this many seconds
    # (Redis transport); the fault tests shorten it.
    broker_transport_options={
        "visibility_timeout": int(os.environ.get("CELERYOPS_DEMO_VISIBILITY_TIMEOUT", "3600")),
    },
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
