"""Run the rendered CronJobs' command against real containers: each sends a task that a worker runs.

No cluster runs here, so the CronJob's pod is reproduced on the Docker
engine from the manifests (kubelet.Pod, as probe_proof.py does for
Deployments): the same image, command and args, user, read-only root,
dropped capabilities and environment from the rendered ConfigMap and
Secret, beside a Redis that answers to the Secret's broker host and a pod of
every rendered worker Deployment. Each CronJob's job runs twice, to
completion; every run must exit 0, print the id of the task it sent, and
that task must succeed, in the result backend, on a worker of the group
that consumes the job's queue (its --queue, else the app's default queue,
`celery`), with the result the task gives for the job's arguments (add:
their sum; tick: the counter, which each run of the tick job raises by
exactly one). Bounded waits; containers and network removed at the end.
Prints a JSON report; exits 1 when an expectation fails.
"""

import json
import os
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_proof import Proof, by_kind, docker, main  # noqa: E402 (its directory first)

TICK_KEY = 'celeryops_demo:ticks'
TICK_TASK = 'celeryops_demo.tasks.tick'


DEFAULT_QUEUE = 'celery'


class CronProof(Proof):
    def ticks(self):
        value = self.redis('get', TICK_KEY)
        return -1 if value is None else int(value or 0)

    def run_job(self, cron, run):
        """One Job of the CronJob, as a pod that must end by itself."""
        pod = {'metadata': {'name': '%s-%d' % (cron['metadata']['name'], run)},
               'spec': {'template': cron['spec']['jobTemplate']['spec']['template']}}
        name, _container = self.start_pod(pod)
        deadline = cron['spec']['jobTemplate']['spec']['activeDeadlineSeconds']
        waited = docker('wait', name, check=False, timeout=deadline + 10)
        logs = docker('logs', name, check=False)
        return int(waited.stdout.strip() or -1), logs.stdout.strip(), (logs.stdout + logs.stderr).strip()[-300:]

    def task_meta(self, task_id, limit=30):
        """The task's record in the result backend once it is final (bounded), else {}."""
        deadline = time.time() + limit
        while time.time() < deadline:
            raw = self.redis('-n', self.backend_db, 'get', 'celery-task-meta-%s' % task_id)
            meta = json.loads(raw) if raw else {}
            if meta.get('status') in ('SUCCESS', 'FAILURE'):
                return meta
            time.sleep(0.5)
        return {}

    def run(self):
        app = self.args.app
        secret = by_kind(self.docs, 'Secret')['%s-secrets' % app]['stringData']
        crons = sorted(by_kind(self.docs, 'CronJob').values(), key=lambda doc: doc['metadata']['name'])
        if not crons:
            raise RuntimeError('no CronJob in %s' % self.args.manifests)
        self.backend_db = urlsplit(secret['CELERY_RESULT_BACKEND']).path.lstrip('/') or '0'
        self.start_broker(secret['CELERY_BROKER_URL'])
        # {queue: group}: who consumes what, from the workers' own --queues.
        consumers = {}
        workers = [doc for name, doc in sorted(by_kind(self.docs, 'Deployment').items()) if '-worker-' in name]
        for worker in workers:
            args = worker['spec']['template']['spec']['containers'][0]['args']
            group = worker['metadata']['name'].split('-worker-', 1)[1]
            for arg in args:
                if arg.startswith('--queues='):
                    consumers.update((queue, group) for queue in arg.split('=', 1)[1].split(','))
            self.start_pod(worker)
        for worker in workers:
            ready = self.wait_for(worker, 'readiness', self.args.timeout)
            self.results.append({'situation': 'worker ready', 'worker': worker['metadata']['name'], 'ok': ready})
            self.ok = self.ok and ready
        for cron in crons:
            args = cron['spec']['jobTemplate']['spec']['template']['spec']['containers'][0]['args']
            task = args[args.index('call') + 1]
            call_args = json.loads(args[args.index('--args') + 1]) if '--args' in args else []
            queue = args[args.index('--queue') + 1] if '--queue' in args else DEFAULT_QUEUE
            counted = task == TICK_TASK
            for run in (1, 2):
                before = self.ticks()
                code, stdout, logs = self.run_job(cron, run)
                # `celery call` prints the id of the task it sent.
                task_id = (stdout.splitlines() or [''])[-1].strip()
                meta = self.task_meta(task_id) if task_id else {}
                after = self.ticks()
                want = after if counted else sum(call_args)
                good = (code == 0 and meta.get('status') == 'SUCCESS' and meta.get('result') == want
                        and str(meta.get('worker', '')).startswith('%s@' % consumers.get(queue, '?'))
                        and (not counted or after == before + 1))
                self.ok = self.ok and good
                self.results.append({'situation': 'job run %d' % run, 'cronjob': cron['metadata']['name'],
                                     'counted': counted, 'queue': queue, 'group': consumers.get(queue),
                                     'exit_code': code, 'task_id': task_id, 'status': meta.get('status'),
                                     'result': meta.get('result'), 'want': want, 'worker': meta.get('worker'),
                                     'ticks_before': before, 'ticks_after': after, 'ok': good, 'log_tail': logs})


if __name__ == '__main__':
    main(CronProof, __doc__, 'celeryops-cron-proof')
