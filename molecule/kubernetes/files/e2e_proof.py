"""Run the whole render on the harness (kubelet.py) and prove it works end to end on a real broker.

Every Deployment of the manifests runs with its replicas (an autoscaled
one with its autoscaler's minimum), its probes run by the harness at their
periods, beside a Redis that answers to the Secret's broker host. Then:

  routing      tasks routed by the app (io_sleep to io, cpu_loop and add to
               cpu and the default queue) each run on a pod of the group
               that consumes their queue (the result's worker name);
  settings     every worker pod's `inspect conf` holds --expect-conf;
  OOM          a task that outgrows its container's memory limit
               (outgrow, on io) gets the container OOM-killed; the harness
               restarts it, and with task_acks_late the message comes back
               within the bound the workers' broker_transport_options give
               (Redis: the visibility timeout plus kombu's sweep period,
               unacked_restore_interval x unacked_restore_throttle) and
               runs once more: 0 lost;
  rolling      the render of --changed (the io group's environment changed:
               only its checksum/env differs) is applied: io's pods are
               replaced under the Deployment's maxSurge/maxUnavailable, each
               old pod deleted only once a new one is ready, while a client
               sends `record` tasks to io: 0 lost; the new pods hold the new
               environment; cpu's template did not change, its pod stays;
  beat state   beat as the StatefulSet of --beat-state: its pod is replaced
               and the new one opens the schedule file the old one wrote
               (same claim, same file) and beat's tick keeps running.
  harness      the harness itself, on a pod of the worker's image and
               security: a failing liveness probe (every 1 s, 2 failures)
               restarts the container, SIGKILL after the grace period when
               SIGTERM is ignored; deleting the pod takes that grace period.

Bounded everywhere: every wait has a limit, the load is at most 400 tasks.
Prints a JSON report (with the harness's events); exits 1 when a check fails.
"""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubelet import Workload, by_kind, docker, load, scaled, template_hash, wait_until  # noqa: E402 (its directory first)
from probe_proof import Proof, main  # noqa: E402

RUNS_KEY = 'celeryops_demo:runs'
ATTEMPTS_KEY = 'celeryops_demo:attempts'
TICK_KEY = 'celeryops_demo:ticks'
STOP_KEY = 'celeryops_proof:stop-load'
# kombu's Redis transport (5.7): an unacknowledged message is restored once
# older than the visibility timeout, by a sweep every interval x throttle s.
KOMBU_VISIBILITY_TIMEOUT_S = 3600
KOMBU_RESTORE_INTERVAL_S = 10
KOMBU_RESTORE_THROTTLE = 10
LOAD_MAX_TASKS = 400
# The longest this proof waits for a redelivery, whatever the broker's bound.
MAX_REDELIVERY_WAIT_S = 120

# Runs in a client container of the app's image (the app, Celery and redis are there).
CLIENT = r'''
import json, sys, time
import redis
from celeryops_demo import tasks
from celeryops_demo.celery import app
mode, arg = sys.argv[1], json.loads(sys.argv[2])
if mode == "routes":
    sent = [(name, tasks.io_sleep.delay(0.01)) for name in ["io_sleep"] * 6]
    sent += [(name, tasks.cpu_loop.delay(1000)) for name in ["cpu_loop"] * 4]
    sent += [(name, tasks.add.delay(2, 3)) for name in ["add"] * 4]
    out = []
    for name, result in sent:
        result.get(timeout=arg["timeout"])
        out.append({"task": name, "worker": result.worker})
    print(json.dumps(out))
elif mode == "outgrow":
    tasks.outgrow.apply_async((arg["token"], arg["megabytes"]), queue="io")
    print(json.dumps({"sent": arg["token"]}))
elif mode == "load":
    client = redis.Redis.from_url(tasks.redis_url())
    client.delete(arg["stop"])
    count, deadline = 0, time.time() + arg["seconds"]
    while count < arg["max"] and time.time() < deadline and not client.exists(arg["stop"]):
        tasks.record.apply_async(("%s-%d" % (arg["prefix"], count), 0.3), queue="io")
        count += 1
        time.sleep(arg["every"])
    print(json.dumps({"sent": count}))
'''


class EndToEnd(Proof):
    def __init__(self, args, docs):
        super().__init__(args, docs)
        self.workloads = {}

    # ---- helpers -----------------------------------------------------------------
    def check(self, situation, good, **detail):
        self.ok = self.ok and bool(good)
        self.results.append(dict(detail, situation=situation, ok=bool(good)))

    def client_argv(self, mode, arg, detach=False):
        path = self.cluster.env_file(self.worker('io').template['spec']['containers'][0], 'client')
        return (['run'] + (['-d', '--name', '%s-load' % self.prefix] if detach else ['--rm'])
                + ['--network', self.network, '--user', '10001:10001', '--env-file', path, '--entrypoint', 'python3',
                   self.worker('io').template['spec']['containers'][0]['image'], '-c', CLIENT, mode, json.dumps(arg)])

    def client(self, mode, arg, timeout=120):
        proc = docker(*self.client_argv(mode, arg), check=False, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError('client %s: %s' % (mode, proc.stderr.strip()[-500:]))
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def worker(self, group):
        return self.workloads['%s-worker-%s' % (self.args.app, group)]

    def replicas(self, deployment):
        """spec.replicas, or the autoscaler's minimum for a Deployment an autoscaler owns."""
        if 'replicas' in deployment['spec']:
            return deployment['spec']['replicas']
        name = deployment['metadata']['name']
        for scaler in by_kind(self.docs, 'ScaledObject').values():
            if scaler['spec']['scaleTargetRef']['name'] == name:
                return scaler['spec'].get('minReplicaCount', 1)
        for scaler in by_kind(self.docs, 'HorizontalPodAutoscaler').values():
            if scaler['spec']['scaleTargetRef']['name'] == name:
                return scaler['spec'].get('minReplicas', 1)
        return 1

    def runs(self, prefix):
        raw = (self.redis('hgetall', RUNS_KEY) or '').splitlines()
        return dict((key, int(value)) for key, value in zip(raw[::2], raw[1::2]) if key.startswith(prefix))

    def attempts(self, token):
        lines = (self.redis('lrange', ATTEMPTS_KEY, '0', '-1') or '').splitlines()
        return [line.split('|') for line in lines if line.split('|')[1:2] == [token]]

    def events(self, what, pods=None):
        return [event for event in self.cluster.events
                if event['what'] == what and (pods is None or event['pod'] in pods)]

    # ---- the proof -------------------------------------------------------------------
    def run(self):
        app = self.args.app
        url = by_kind(self.docs, 'Secret')['%s-secrets' % app]['stringData']['CELERY_BROKER_URL']
        self.start_broker(url)
        for deployment in sorted(by_kind(self.docs, 'Deployment').values(), key=lambda doc: doc['metadata']['name']):
            workload = Workload(self.cluster, deployment, self.replicas(deployment))
            self.workloads[workload.name] = workload
            workload.start(self.args.timeout)
        for name, workload in sorted(self.workloads.items()):
            ready = workload.wait_ready(self.args.timeout)
            self.check('ready', ready, workload=name, replicas=workload.replicas,
                       ready=len(workload.ready_pods()))
        self.routing()
        self.exporter()
        self.settings()
        self.oom()
        self.rolling()
        self.beat_state()
        self.harness()

    def routing(self):
        nodes = dict((group, set('%s@%s' % (group, pod.name) for pod in self.worker(group).pods))
                     for group in ('io', 'cpu'))
        want = {'io_sleep': 'io', 'cpu_loop': 'cpu', 'add': 'cpu'}
        ran = self.client('routes', {'timeout': 60})
        wrong = [item for item in ran if item['worker'] not in nodes[want[item['task']]]]
        self.check('routing', ran and not wrong, tasks=len(ran), wrong=wrong,
                   io_nodes=sorted(set(item['worker'] for item in ran if item['task'] == 'io_sleep')))

    def exporter(self):
        """The broker exporter (22-broker-exporter.yaml) reads the broker with the password from the
        Secret (redis_up 1: the broker refuses a client without it) and the length of every queue the
        worker groups consume."""
        name = '%s-broker-exporter' % self.args.app
        if name not in self.workloads:
            return
        pod = self.workloads[name].pods[0]
        args = pod.container_spec['args']
        queues = sorted(item.split('=', 1)[1] for item in args[-1].split('=', 1)[1].split(','))
        metrics = ''
        try:
            with urllib.request.urlopen('http://%s:9121/metrics' % pod.address(), timeout=10) as response:
                metrics = response.read().decode()
        except (urllib.error.URLError, OSError) as exc:
            metrics = str(exc)
        missing = [queue for queue in queues if 'key="%s"' % queue not in metrics]
        self.check('exporter', re.search(r'(?m)^redis_up 1$', metrics) and queues and not missing,
                   queues=queues, missing=missing, redis_up=re.findall(r'(?m)^redis_up .*$', metrics))

    def settings(self):
        for group in ('io', 'cpu'):
            for pod in self.worker(group).pods:
                # expect_settings reads the Deployment's pod by name: point it at this pod.
                self.pods[pod.name], self.containers[pod.name] = pod, pod.container
                self.expect_settings({'metadata': {'name': pod.name}, 'spec': {'template': pod.template}})

    def restore_bound(self, workload):
        """How long an unacknowledged message may wait on Redis before a worker restores it: the
        visibility timeout plus kombu's sweep period (interval times throttle), from the
        broker_transport_options the workers get (kombu's defaults where they set none)."""
        env = dict((item['name'], item.get('value')) for item in workload.template['spec']['containers'][0]['env'])
        options = json.loads(env.get('CELERYOPS_CELERY_SETTINGS') or '{}').get('broker_transport_options', {})
        return (options.get('visibility_timeout', KOMBU_VISIBILITY_TIMEOUT_S)
                + options.get('unacked_restore_interval', KOMBU_RESTORE_INTERVAL_S)
                * options.get('unacked_restore_throttle', KOMBU_RESTORE_THROTTLE))

    def oom(self):
        workload = self.worker('io')
        limit = workload.template['spec']['containers'][0]['resources']['limits']['memory']
        megabytes = int(limit.rstrip('Mi')) + 256 if limit.endswith('Mi') else 2048
        token = 'oom-%d' % int(time.time())
        names = set(pod.name for pod in workload.pods)
        self.client('outgrow', {'token': token, 'megabytes': megabytes})
        killed = wait_until(lambda: [e for e in self.events('exited', names) if e['oom_killed']], 60)
        restarted = wait_until(lambda: self.events('restarted', names), 30)
        bound = self.restore_bound(workload) + 10
        # Bounded: with kombu's defaults (an hour) the proof gives up after its own limit and fails.
        counted = wait_until(lambda: self.runs(token).get(token, 0) >= 1, min(bound, MAX_REDELIVERY_WAIT_S) + 30)
        starts = [float(item[4]) for item in self.attempts(token) if item[0] == 'start']
        redelivered_s = round(starts[1] - starts[0], 1) if len(starts) > 1 else None
        ready = workload.wait_ready(self.args.timeout)
        self.check('OOM kill', killed and restarted and ready, limit=limit, task_megabytes=megabytes,
                   exits=self.events('exited', names), restarts=[pod.restarts for pod in workload.pods])
        self.check('OOM redelivery', counted and redelivered_s is not None and redelivered_s <= bound,
                   runs=self.runs(token).get(token, 0), attempts=len(starts), redelivered_after_s=redelivered_s,
                   bound_s=bound)

    def rolling(self):
        changed = load(self.args.changed)
        self.cluster.add_objects(changed)
        io, cpu = self.worker('io'), self.worker('cpu')
        new_io = by_kind(changed, 'Deployment')[io.name]
        old_names = set(pod.name for pod in io.pods)
        cpu_pods = [pod.name for pod in cpu.pods]
        load_argv = self.client_argv('load', {'prefix': 'roll', 'stop': STOP_KEY, 'max': LOAD_MAX_TASKS,
                                              'every': 0.25, 'seconds': 150}, detach=True)
        docker(*load_argv)
        self.containers['load'] = '%s-load' % self.prefix
        time.sleep(3)
        started = time.time()
        rolled = io.apply(new_io, 240)
        rollout_s = round(time.time() - started, 1)
        cpu_same = cpu.apply(by_kind(changed, 'Deployment')[cpu.name], 10) and [p.name for p in cpu.pods] == cpu_pods
        time.sleep(3)
        self.redis('set', STOP_KEY, '1')
        docker('wait', self.containers['load'], timeout=60)
        sent = json.loads(docker('logs', self.containers['load']).stdout.strip().splitlines()[-1])['sent']
        done = wait_until(lambda: len(self.runs('roll-')) >= sent, 120, step=2)
        runs = self.runs('roll-')
        lost = sorted(set('roll-%d' % index for index in range(sent)) - set(runs))
        update = new_io['spec']['strategy']['rollingUpdate']
        order_ok = self.one_at_a_time(old_names, set(pod.name for pod in io.pods))
        environ = [dict(item.split('=', 1) for item in pod.exec('cat', '/proc/1/environ').stdout.split('\0')
                        if '=' in item).get('CELERYOPS_GROUP_CHECK') for pod in io.pods]
        want_env = self.cluster.secret_data('%s-worker-io-env' % self.args.app)['CELERYOPS_GROUP_CHECK']
        self.check('rolling update', rolled and order_ok and all(pod.hash == template_hash(new_io['spec']['template'])
                                                                 for pod in io.pods),
                   rollout_s=rollout_s, strategy=update, most_pods=io.most_pods, fewest_ready=io.fewest_ready,
                   replicas=io.replicas)
        self.check('rolling update: new environment', environ and all(value == want_env for value in environ),
                   seen=environ, want=want_env)
        self.check('rolling update: unchanged template stays', cpu_same, pods=cpu_pods)
        self.check('rolling update: 0 lost under load', done and sent > 0 and not lost, sent=sent,
                   counted=len(runs), lost=lost[:20], ran_twice=sum(1 for value in runs.values() if value > 1))

    def one_at_a_time(self, old, new):
        """Each old pod deleted only after a new pod became ready, never two deletions on one new pod,
        at most replicas + maxSurge pods, at least replicas - maxUnavailable ready."""
        io = self.worker('io')
        update = io.obj['spec']['strategy']['rollingUpdate']
        surge = scaled(update.get('maxSurge', '25%'), io.replicas, True)
        unavailable = scaled(update.get('maxUnavailable', '25%'), io.replicas, False)
        ready_new = deleted = 0
        for event in self.cluster.events:
            if event['what'] == 'ready' and event['pod'] in new:
                ready_new += 1
            elif event['what'] == 'deleting' and event['pod'] in old:
                deleted += 1
                if unavailable == 0 and deleted > ready_new:
                    return False
        return (deleted == len(old) and io.most_pods <= io.replicas + surge
                and io.fewest_ready >= io.replicas - unavailable)

    def beat_state(self):
        docs = load(self.args.beat_state)
        self.cluster.add_objects(docs)
        sts = by_kind(docs, 'StatefulSet')['%s-beat' % self.args.app]
        # Beat moves from the Deployment to the StatefulSet: never two beats at once.
        deployment = self.workloads.pop('%s-beat' % self.args.app)
        for pod in list(deployment.pods):
            deployment.delete_pod(pod, wait=True)
        beat = Workload(self.cluster, sts)
        self.workloads[beat.name + '-sts'] = beat
        up = beat.start(self.args.timeout)
        mount = [item['mountPath'] for item in sts['spec']['template']['spec']['containers'][0]['volumeMounts']
                 if item['name'] == sts['spec']['volumeClaimTemplates'][0]['metadata']['name']][0]
        schedule = [arg.split('=', 1)[1] for arg in sts['spec']['template']['spec']['containers'][0]['args']
                    if arg.startswith('--schedule=')][0]
        # The file's name has the dbm module's suffix, if any (.db for ndbm).
        inode = ['sh', '-c', 'stat -c "%%n %%i" %s*' % schedule]
        wait_until(lambda: beat.pods[0].exec(*inode).returncode == 0, 30)
        before = beat.pods[0].exec(*inode).stdout.strip()
        beat.pods[0].exec('sh', '-c', 'echo kept > %s/proof-marker' % mount)
        ticks = int(self.redis('get', TICK_KEY) or 0)
        replaced = json.loads(json.dumps(sts))
        replaced['spec']['template']['metadata'].setdefault('annotations', {})['proof/replace'] = '1'
        rolled = beat.apply(replaced, self.args.timeout * 2)
        after = beat.pods[0].exec(*inode).stdout.strip()
        marker = beat.pods[0].exec('cat', '%s/proof-marker' % mount).stdout.strip()
        ticking = wait_until(lambda: int(self.redis('get', TICK_KEY) or 0) > ticks + 1, 30)
        self.check('beat state survives a replaced pod', up and rolled and before and before == after
                   and marker == 'kept' and ticking, pod=beat.pods[0].name, inode_before=before,
                   inode_after=after, marker=marker, ticks_before=ticks, ticks_after=self.redis('get', TICK_KEY))

    def harness(self):
        """The harness itself: a liveness probe that fails restarts the container, after the
        grace period when the process ignores SIGTERM; deleting the pod takes its grace period."""
        base = self.worker('io').template
        template = json.loads(json.dumps(base))
        spec = template['spec']
        container = spec['containers'][0]
        container.update({
            'command': ['python3', '-c', "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                         "open('/tmp/alive', 'w').close(); time.sleep(600)"],
            'args': [], 'livenessProbe': {'exec': {'command': ['test', '-f', '/tmp/alive']}, 'periodSeconds': 1,
                                          'failureThreshold': 2, 'timeoutSeconds': 5}})
        for kind in ('startupProbe', 'readinessProbe'):
            container.pop(kind, None)
        spec['terminationGracePeriodSeconds'] = 3
        workload = Workload(self.cluster, {'kind': 'Deployment', 'metadata': {'name': 'harness-check'},
                                           'spec': {'replicas': 1, 'template': template}})
        up = workload.start(30)
        pod = workload.pods[0]
        started = time.time()
        pod.exec('rm', '/tmp/alive')
        restarted = wait_until(lambda: pod.restarts == 1 and pod.exec('test', '-f', '/tmp/alive').returncode == 0, 30)
        restart_s = round(time.time() - started, 1)
        killing = [event.get('reason', '') for event in self.events('killing', [pod.name])]
        workload.delete_pod(pod, wait=True)
        deleted = self.events('deleted', [pod.name])
        # Two failed runs a second apart, then SIGTERM ignored for the 3 s grace, then SIGKILL.
        good = (up and restarted and len(killing) == 1 and 'liveness' in killing[0] and 4 <= restart_s <= 15
                and deleted and deleted[0]['code'] == 137 and 3 <= deleted[0]['after_s'] <= 8)
        self.check('harness: liveness restarts, grace period', good, restart_s=restart_s, killing=killing,
                   deleted=deleted)

    def cleanup(self):
        if 'load' in self.containers:
            docker('rm', '-f', self.containers['load'], check=False)
        super().cleanup()
        self.results.append({'situation': 'events', 'ok': True, 'events': self.cluster.events})


def arguments(parser):
    parser.add_argument('--changed', required=True, help='a render with the io group environment changed')
    parser.add_argument('--beat-state', required=True, help='a render of beat as a StatefulSet')


if __name__ == '__main__':
    main(EndToEnd, __doc__, 'celeryops-e2e', arguments)
