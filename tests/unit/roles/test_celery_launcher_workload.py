"""celeryops-celery.py measures the workload a real worker runs.

Real workers (prefork and threads) run tasks of known wall time, CPU time
and memory on a real redis-server; what the launcher wrote is read back the
way the celery_workload_report module reads it, and must match. Every wait
is bounded.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_workload
from ansible_collections.celeryops.deploy.plugins.modules.celery_workload_report import systemd_records

from test_celery_launcher_heartbeat import LAUNCHER, redis  # noqa: F401 pylint: disable=unused-import

APP = (
    'import time\n'
    'import redis\n'
    'from celery import Celery\n'
    'app = Celery("wapp")\n'
    'app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,\n'
    '                task_ignore_result=True)\n'
    '@app.task(name="wapp.work")\n'
    'def work(wait_s, cpu_s, memory_mb):\n'
    '    time.sleep(wait_s)\n'
    '    held = bytearray(memory_mb * 1048576)\n'
    '    for offset in range(0, len(held), 4096):\n'
    '        held[offset] = 1\n'
    '    end = time.thread_time() + cpu_s\n'
    '    while time.thread_time() < end:\n'
    '        pass\n'
    '    redis.Redis.from_url(app.conf.broker_url).incr("wapp:done")\n'
)


def run_worker(tmp_path, redis, pool, concurrency, tasks, args):
    """Run a worker through the launcher, send it ``tasks`` tasks, stop it warm; the group's records."""
    import redis as redis_py
    (tmp_path / 'wapp.py').write_text(APP)
    url = 'redis://127.0.0.1:%d/0' % redis.port
    directory = tmp_path / 'workload' / 'grp@1'
    env = dict(os.environ, CELERY_BROKER_URL=url, CELERYOPS_WORKLOAD_DIR=str(directory))
    for name in ('CELERYOPS_CELERY_SETTINGS', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'CELERYOPS_HEARTBEAT_FILE'):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, LAUNCHER, '-A', 'wapp', 'worker', '-P', pool, '-c', str(concurrency),
                             '--without-gossip', '--without-mingle', '-l', 'WARNING'],
                            cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        sys.path.insert(0, str(tmp_path))
        try:
            import importlib
            wapp = importlib.import_module('wapp')
            wapp.app.conf.broker_url = url
            for _task in range(tasks):
                wapp.work.apply_async(args)
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop('wapp', None)
        client = redis_py.Redis(port=redis.port)
        deadline = time.time() + 60
        while int(client.get('wapp:done') or 0) < tasks:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, 'only %s of %d tasks ran' % (client.get('wapp:done'), tasks)
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: every process writes its record
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return systemd_records(str(tmp_path / 'workload'))


@pytest.mark.parametrize('pool, concurrency', [('threads', 4), ('prefork', 2)])
def test_the_launcher_measures_wall_and_cpu_time(tmp_path, redis, pool, concurrency):  # noqa: F811
    records = run_worker(tmp_path, redis, pool, concurrency, 40, (0.03, 0.01, 0))
    report = _celery_workload.report(records)
    assert [item['name'] for item in report] == ['grp']
    item = report[0]
    assert item['tasks'] == 40
    # 30 ms asleep + 10 ms of CPU; threads take turns on the GIL (and the
    # machine may be busy), so the wall time can be longer, the CPU time not.
    assert 0.038 <= item['mean_s'] <= 0.2, item
    assert item['cpu_share'] == pytest.approx(item['workload']['cpu_time_s'] / item['mean_s'], rel=0.02)
    assert item['mean_s'] <= item['p95_s'] * 1.25 and item['p95_s'] <= 0.5, item
    assert item['workload']['kind'] == 'mixed'
    assert 0.008 <= item['workload']['cpu_time_s'] <= 0.02, item
    if pool == 'prefork':
        assert item['processes'] == 2  # each child its own record


def test_the_launcher_measures_task_memory(tmp_path, redis):  # noqa: F811
    records = run_worker(tmp_path, redis, 'prefork', 1, 5, (0.0, 0.01, 40))
    item = _celery_workload.report(records)[0]
    assert 35 <= item['task_memory_mb'] <= 60, item
    assert item['peak_rss_mb'] >= 40, item


def test_no_records_without_the_variable(tmp_path):
    assert _celery_workload.report(systemd_records(str(tmp_path / 'nothing'))) == []
