"""Run the rendered CronJobs' command against real containers: each sends a task that a worker runs.

No cluster runs here, so the CronJob's pod is reproduced on the Docker
engine from the manifests (as probe_proof.py does for Deployments): the same
image, command and args, user, read-only root, dropped capabilities and
environment from the rendered ConfigMap and Secret, beside a Redis that
answers to the Secret's broker host and a worker pod of the rendered
Deployment. Each CronJob's job runs twice, to completion; every run must
exit 0 and add exactly one run of its task (the demo's tick task counts its
runs in Redis; a job of another task must exit 0: it published). Bounded waits; containers and network removed at the end.
Prints a JSON report; exits 1 when an expectation fails.
"""

import os
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_proof import Proof, by_kind, docker, main  # noqa: E402 (its directory first)

TICK_KEY = 'celeryops_demo:ticks'
TICK_TASK = 'celeryops_demo.tasks.tick'


class CronProof(Proof):
    def ticks(self, password):
        proc = docker('exec', self.containers['broker'], 'redis-cli', '--no-auth-warning', '-a', password,
                      'get', TICK_KEY, check=False)
        return int(proc.stdout.strip() or 0) if proc.returncode == 0 else -1

    def run_job(self, cron, run):
        """One Job of the CronJob, as a pod that must end by itself."""
        pod = {'metadata': {'name': '%s-%d' % (cron['metadata']['name'], run)},
               'spec': {'template': cron['spec']['jobTemplate']['spec']['template']}}
        name, _container = self.start_pod(pod)
        deadline = cron['spec']['jobTemplate']['spec']['activeDeadlineSeconds']
        waited = docker('wait', name, check=False, timeout=deadline + 10)
        logs = docker('logs', name, check=False)
        return int(waited.stdout.strip() or -1), (logs.stdout + logs.stderr).strip()[-300:]

    def run(self):
        app = self.args.app
        worker = by_kind(self.docs, 'Deployment')['%s-worker-%s' % (app, self.args.group)]
        crons = sorted(by_kind(self.docs, 'CronJob').values(), key=lambda doc: doc['metadata']['name'])
        if not crons:
            raise RuntimeError('no CronJob in %s' % self.args.manifests)
        url = by_kind(self.docs, 'Secret')['%s-secrets' % app]['stringData']['CELERY_BROKER_URL']
        password = urlsplit(url).password
        self.start_broker(url)
        self.start_pod(worker)
        ready = self.wait_for(worker, 'readiness', self.args.timeout)
        self.results.append({'situation': 'worker ready', 'ok': ready})
        self.ok = self.ok and ready
        for cron in crons:
            args = cron['spec']['jobTemplate']['spec']['template']['spec']['containers'][0]['args']
            counted = args[args.index('call') + 1] == TICK_TASK
            for run in (1, 2):
                before = self.ticks(password)
                code, logs = self.run_job(cron, run)
                # The job has published; the worker runs the task within seconds.
                deadline = time.time() + (30 if counted else 0)
                after = self.ticks(password)
                while after < before + 1 and time.time() < deadline:
                    time.sleep(0.5)
                    after = self.ticks(password)
                if counted:
                    time.sleep(2)  # a second run of one send would show here
                    after = self.ticks(password)
                good = code == 0 and after == before + (1 if counted else 0)
                self.ok = self.ok and good
                self.results.append({'situation': 'job run %d' % run, 'cronjob': cron['metadata']['name'],
                                     'counted': counted, 'exit_code': code, 'ticks_before': before, 'ticks_after': after,
                                     'ok': good, 'log_tail': logs})


if __name__ == '__main__':
    main(CronProof, __doc__, 'celeryops-cron-proof')
