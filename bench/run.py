"""Benchmark: Celery's defaults vs the celery_worker_plan settings vs a sweep.

Real workers (`celery worker` subprocesses) on a real Redis on loopback, for
three workload profiles. Prints a table and the ratios plan/best-of-sweep and
plan/default, and writes them to a file. Every run is bounded in tasks and
time. `--quick` is the smoke run `make test` uses to keep the harness working.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _free_port():
    """A loopback port nothing listens on now (another Redis may own 6379/6390)."""
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


PORT = int(os.environ.get('BENCH_REDIS_PORT') or _free_port())
BROKER = 'redis://127.0.0.1:%d/0' % PORT
os.environ['BENCH_BROKER_URL'] = BROKER
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, '.cache', 'collections'))

import redis  # noqa: E402

import bench_app  # noqa: E402

TASK_SECONDS = 0.02  # every profile's task takes about 20 ms


def calibrate_iterations(target_s):
    """Loop iterations that take target_s of CPU on this machine (best of 5)."""
    iterations = 20000
    best = None
    for _attempt in range(5):
        start = time.perf_counter()
        bench_app._spin(iterations)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return max(1000, int(iterations * target_s / best))


def profiles(quick):
    cpu_iterations = calibrate_iterations(TASK_SECONDS)
    half = max(500, cpu_iterations // 2)
    scale = 0.25 if quick else 1.0
    return [
        {'name': 'io', 'title': 'I/O-bound (20 ms sleep)', 'task': 'io_task', 'args': (TASK_SECONDS,),
         'tasks': int(1200 * scale),
         'workload': {'name': 'io', 'kind': 'io', 'task_memory_mb': 20, 'avg_duration_s': TASK_SECONDS}},
        {'name': 'cpu', 'title': 'CPU-bound (20 ms pure-Python loop)', 'task': 'cpu_task', 'args': (cpu_iterations,),
         'tasks': int(400 * scale),
         'workload': {'name': 'cpu', 'kind': 'cpu', 'task_memory_mb': 20, 'avg_duration_s': TASK_SECONDS}},
        {'name': 'mixed', 'title': 'Mixed (10 ms sleep + 10 ms loop)', 'task': 'mixed_task',
         'args': (TASK_SECONDS / 2, half), 'tasks': int(600 * scale),
         'workload': {'name': 'mixed', 'kind': 'mixed', 'task_memory_mb': 20, 'avg_duration_s': TASK_SECONDS,
                      'io_share': 0.5}},
    ]


def sweep(quick):
    if quick:
        return [('prefork', 2), ('threads', 16)]
    return ([('prefork', c) for c in (1, 2, 4, 8, 16)]
            + [('threads', c) for c in (4, 16, 64)])


# The sweep's best, Celery's default and the plan are then measured again,
# interleaved, this many times; each keeps its best run (less noise from
# whatever else the 2 cores do).
REPEATS = 2


def default_setting():
    # Celery's defaults: prefork, one process per CPU, prefetch multiplier 4.
    return {'pool': 'prefork', 'concurrency': os.cpu_count() or 1, 'prefetch_multiplier': 4}


def planned_setting(workload):
    """What celery_worker_plan plans for this workload on this machine."""
    from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_plan
    plan = _celery_plan.make_plan({'groups': [dict(workload)]}, _celery_plan.detect_resources())
    group = plan['groups'][0]
    return {'pool': group['pool'], 'concurrency': group['concurrency'], 'instances': group['instances'],
            'prefetch_multiplier': group['prefetch_multiplier'], 'summary': group.get('summary', '')}


class Redis(object):
    """A throwaway redis-server on loopback, no persistence."""

    def __enter__(self):
        exe = shutil.which('redis-server')
        if not exe:
            sys.exit('redis-server not found (make bench installs it)')
        self.dir = tempfile.mkdtemp(prefix='celeryops-bench-')
        self.log = os.path.join(self.dir, 'redis.log')
        self.proc = subprocess.Popen([exe, '--port', str(PORT), '--bind', '127.0.0.1', '--save', '',
                                      '--appendonly', 'no', '--dir', self.dir, '--logfile', self.log],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=PORT)
        for _attempt in range(50):
            if self.proc.poll() is not None:
                break  # ours exited (the port was taken, ...): say why, below
            try:
                self.client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.1)
        with open(self.log) if os.path.exists(self.log) else open(os.devnull) as handle:
            tail = handle.read()[-500:]
        raise RuntimeError('redis-server on 127.0.0.1:%d did not start (exit %s): %s'
                           % (PORT, self.proc.poll(), tail.strip() or 'no log'))

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_one(broker, profile, setting, timeout_s=90):
    """Start the worker(s) of `setting`, push the profile's tasks, return tasks/s."""
    broker.client.flushdb()
    instances = setting.get('instances', 1)
    workers = []
    for number in range(1, instances + 1):
        cmd = [sys.executable, '-m', 'celery', '-A', 'bench_app', 'worker', '-Q', 'bench', '-l', 'WARNING',
               '-P', setting['pool'], '-c', str(setting['concurrency']),
               '--prefetch-multiplier', str(setting['prefetch_multiplier']),
               '--without-gossip', '--without-mingle', '--without-heartbeat', '-n', 'bench%d@%%h' % number]
        workers.append(subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env=dict(os.environ, PYTHONPATH=HERE)))
    try:
        deadline = time.monotonic() + 30
        while len(bench_app.app.control.ping(timeout=0.5)) < instances:
            if any(worker.poll() is not None for worker in workers) or time.monotonic() > deadline:
                raise RuntimeError('workers did not start: %s' % workers[0].stderr.read().decode()[-500:])
        task = getattr(bench_app, profile['task'])
        count = profile['tasks']
        start = time.monotonic()
        for _task in range(count):
            task.apply_async(profile['args'])
        while int(broker.client.get(bench_app.COUNTER) or 0) < count:
            if time.monotonic() - start > timeout_s:
                raise RuntimeError('timed out after %d s' % timeout_s)
            time.sleep(0.01)
        return count / (time.monotonic() - start)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true', help='smoke run: tiny, checks the harness only')
    parser.add_argument('--out', default=os.path.join(ROOT, '.cache', 'bench', 'results.md'))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    started = time.monotonic()
    rows, summary = [], []
    with Redis() as broker:
        for profile in profiles(args.quick):
            default = default_setting()
            plan = planned_setting(profile['workload'])
            results = {}
            for pool, concurrency in sweep(args.quick):
                setting = {'pool': pool, 'concurrency': concurrency, 'prefetch_multiplier': 4}
                results[(pool, concurrency)] = run_one(broker, profile, setting)
                label = 'sweep %s x %d' % (pool, concurrency)
                rows.append((profile['name'], label, results[(pool, concurrency)]))
                print('%-6s %-28s %7.1f tasks/s' % (profile['name'], label, results[(pool, concurrency)]), flush=True)
            best_key = max(results, key=results.get)
            best_setting = {'pool': best_key[0], 'concurrency': best_key[1], 'prefetch_multiplier': 4}
            default_rate = plan_rate = 0.0
            repeats = 1 if args.quick else REPEATS
            for _round in range(repeats):
                if not args.quick:
                    results[best_key] = max(results[best_key], run_one(broker, profile, best_setting))
                default_rate = max(default_rate, run_one(broker, profile, default))
                plan_rate = max(plan_rate, run_one(broker, profile, plan))
            best_key = max(results, key=results.get)
            best = results[best_key]
            default_label = 'default %s x %d' % (default['pool'], default['concurrency'])
            plan_label = 'plan %s x %d x %d inst (prefetch %d)' % (
                plan['pool'], plan['concurrency'], plan['instances'], plan['prefetch_multiplier'])
            for label, rate in ((default_label, default_rate), (plan_label, plan_rate)):
                rows.append((profile['name'], label, rate))
                print('%-6s %-36s %7.1f tasks/s' % (profile['name'], label, rate), flush=True)
            summary.append({
                'profile': profile['title'], 'default': default_rate, 'plan': plan_rate,
                'plan_setting': '%s x %d%s' % (
                    plan['pool'], plan['concurrency'],
                    ' x %d instances' % plan['instances'] if plan['instances'] > 1 else ''),
                'best': best, 'best_setting': '%s x %d' % best_key,
                'plan_over_best': plan_rate / best, 'plan_over_default': plan_rate / default_rate,
            })
    lines = ['| profile | Celery default | plan | best of sweep | plan / best | plan / default |',
             '|---|---|---|---|---|---|']
    for item in summary:
        lines.append('| %s | %.0f/s | %.0f/s (%s) | %.0f/s (%s) | %.2f | %.2f |' % (
            item['profile'], item['default'], item['plan'], item['plan_setting'], item['best'],
            item['best_setting'], item['plan_over_best'], item['plan_over_default']))
    table = '\n'.join(lines)
    detail = '\n'.join('| %s | %s | %.1f |' % row for row in rows)
    with open(args.out, 'w') as handle:
        handle.write('# celery_worker_plan benchmark (%s, %d CPUs)\n\n%s\n\n| profile | setting | tasks/s |\n|---|---|---|\n%s\n'
                     % ('quick' if args.quick else 'full', os.cpu_count() or 1, table, detail))
    with open(os.path.splitext(args.out)[0] + '.json', 'w') as handle:
        json.dump({'summary': summary, 'rows': rows, 'quick': args.quick}, handle, indent=2)
    print('\n' + table)
    print('\nwritten to %s (%.0f s)' % (args.out, time.monotonic() - started))


if __name__ == '__main__':
    main()
