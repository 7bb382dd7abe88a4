"""Demo Celery app for celeryops.deploy: I/O, CPU and trivial tasks."""
