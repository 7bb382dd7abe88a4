"""Run the probes of rendered Kubernetes manifests against real containers.

No cluster runs here, so each Deployment's pod is reproduced on the Docker
engine from the manifests themselves, by kubelet.Pod (see kubelet.py: image,
command, args, environment, volumes, securityContext, limits), one pod per
Deployment, without the kubelet's loop: this proof runs the probes itself,
in situations it makes. A Redis container (a RabbitMQ one for an amqp://
URL) answers to the broker host of the Secret's URL. Then the probe
commands and httpGet paths, taken from the manifests, must:

  succeed  against healthy containers (startup, readiness, liveness);
  fail     against a wedged worker (SIGSTOP) while the broker works
           (readiness and liveness, once its heartbeat file is stale), a
           wedged beat (readiness);
  liveness keeps passing during a broker outage (readiness fails), and
           readiness passes again once the broker is back.
Flower's /metrics asks for its login (the launcher's doing: Flower alone
serves it to anyone) while its health check, which the probes read, stays
open: 401 without the login, 200 and Flower's metric families with it.

With --expect-conf and --expect-env, also what the inventory says reaches
the running worker: Celery's own `inspect conf` of the worker's node holds
those settings, and the worker process's environment those variables (the
kubelet's resolution of envFrom and env, as kubelet.Cluster does it).

Every wait is bounded; the containers and network are removed at the end.
Prints a JSON report; exits 1 when an expectation fails.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubelet import Cluster, Pod, by_kind, docker, load  # noqa: E402,F401 (its directory first; cron_proof imports them here)


class Proof:
    def __init__(self, args, docs):
        self.args = args
        self.docs = docs
        self.prefix = args.prefix
        self.cluster = Cluster(docs, self.prefix)
        self.network = self.cluster.network
        self.results = []
        self.ok = True
        self.tmp = self.cluster.tmp
        self.containers = {}
        self.pods = {}
        self.broker_password = None

    # ---- setup -----------------------------------------------------------
    def start_broker(self, url):
        parts = urlsplit(url)
        self.broker_password = parts.password
        if parts.scheme in ('amqp', 'pyamqp'):
            return self.start_rabbitmq(parts)
        conf = os.path.join(self.tmp, 'redis.conf')
        with open(conf, 'w') as handle:
            handle.write('port %d\nrequirepass %s\nbind * -::*\nsave ""\n' % (parts.port or 6379, parts.password))
        os.chmod(conf, 0o644)
        name = '%s-broker' % self.prefix
        docker('run', '-d', '--name', name, '--network', self.network, '--network-alias', parts.hostname,
               '--user', '10001:10001', '-v', '%s:/etc/proof-redis.conf:ro' % conf,
               '--entrypoint', 'redis-server', self.args.broker_image, '/etc/proof-redis.conf')
        self.containers['broker'] = name
        return name

    def redis(self, *argv):
        """redis-cli in the Redis broker with its password (from a file the
        proof wrote, so never on a host command line); its output, or None
        when the command failed."""
        proc = docker('exec', self.containers['broker'], 'redis-cli', '--no-auth-warning', '-a',
                      self.broker_password, *argv, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def start_rabbitmq(self, parts):
        """RabbitMQ (--rabbitmq-image) with the URL's user, password and vhost as its defaults."""
        conf = os.path.join(self.tmp, 'rabbitmq.conf')
        vhost = parts.path[1:] or '/'
        with open(conf, 'w') as handle:
            handle.write('listeners.tcp.default = %d\ndefault_user = %s\ndefault_pass = %s\ndefault_vhost = %s\n'
                         'default_permissions.configure = .*\ndefault_permissions.read = .*\n'
                         'default_permissions.write = .*\nlog.console = true\nlog.file = false\n'
                         % (parts.port or 5672, parts.username, parts.password, vhost))
        os.chmod(conf, 0o644)
        name = '%s-broker' % self.prefix
        docker('run', '-d', '--name', name, '--network', self.network, '--network-alias', parts.hostname,
               '--hostname', 'proof-rabbit', '--tmpfs', '/var/log/rabbitmq:uid=999,gid=999',
               '-e', 'RABBITMQ_CONFIG_FILE=/etc/proof-rabbitmq.conf', '-v', '%s:/etc/proof-rabbitmq.conf:ro' % conf,
               self.args.rabbitmq_image)
        self.containers['broker'] = name
        return name

    def start_pod(self, deployment):
        """The deployment's pod as kubelet.Pod makes it, without its kubelet loop: the proof
        drives the probes itself. Returns the container's name and spec."""
        name = deployment['metadata']['name']
        pod = Pod(self.cluster, deployment['spec']['template'], '%s-5d9c7b6f4-x2k8q' % name[:40])
        pod.start(kubelet=False)
        self.containers[name] = pod.container
        self.pods[name] = pod
        return pod.container, pod.container_spec

    # ---- probes ----------------------------------------------------------
    def expect(self, situation, deployment, kind, want):
        passed, detail = self.pods[deployment['metadata']['name']].probe(kind)
        good = passed == want
        self.ok = self.ok and good
        self.results.append({'situation': situation, 'deployment': deployment['metadata']['name'],
                             'probe': kind, 'passed': passed, 'expected': want, 'ok': good,
                             'detail': detail})

    def expect_within(self, situation, deployment, kind, want, limit):
        """Like expect, but the probe may take up to `limit` seconds to turn
        (a heartbeat file goes stale after its maximum age)."""
        pod = self.pods[deployment['metadata']['name']]
        start = time.time()
        deadline = start + limit
        while True:
            passed, detail = pod.probe(kind)
            if passed == want or time.time() > deadline:
                break
            time.sleep(1)
        good = passed == want
        self.ok = self.ok and good
        self.results.append({'situation': situation, 'deployment': deployment['metadata']['name'],
                             'probe': kind, 'passed': passed, 'expected': want, 'ok': good,
                             'after_s': round(time.time() - start, 1), 'detail': detail})

    def expect_metrics_login(self, flower):
        """Flower's /metrics (beside its health check, under the URL prefix) refuses a
        request without the login and serves Flower's metrics with it (FLOWER_BASIC_AUTH
        of the running container, from its Secret)."""
        name = flower['metadata']['name']
        pod = self.pods[name]
        http = pod.container_spec['readinessProbe']['httpGet']
        port = [item['containerPort'] for item in pod.container_spec['ports'] if item['name'] == http['port']][0]
        url = 'http://%s:%d%s/metrics' % (pod.address(), port, http['path'].rsplit('/', 1)[0])
        environ = docker('exec', self.containers[name], 'cat', '/proc/1/environ', check=False).stdout
        seen = dict(item.split('=', 1) for item in environ.split('\0') if '=' in item)
        login = (seen.get('FLOWER_BASIC_AUTH') or '').split(',')[0]
        for probe, credentials, want in (('metrics without login', '', 401), ('metrics with login', login, 200)):
            status, body = _get(url, credentials)
            passed = status == want and (want != 200 or '# HELP flower_worker_online' in body)
            good = passed and bool(login)
            self.ok = self.ok and good
            self.results.append({'situation': 'healthy', 'deployment': name, 'probe': probe, 'passed': passed,
                                 'expected': True, 'ok': good,
                                 'detail': '%s -> %s%s' % (url, status, '' if login else ' (no FLOWER_BASIC_AUTH)')})

    def wait_for(self, deployment, kind, limit):
        """Run a probe until it passes, at most `limit` seconds (bounded)."""
        pod = self.pods[deployment['metadata']['name']]
        period = min(pod.container_spec['%sProbe' % kind].get('periodSeconds', 10), 3)
        deadline = time.time() + limit
        while time.time() < deadline:
            passed, _detail = pod.probe(kind)
            if passed:
                return True
            time.sleep(period)
        return False

    def expect_settings(self, deployment):
        """The node's `inspect conf` and PID 1's environment hold what the inventory says."""
        name = self.containers[deployment['metadata']['name']]
        container = deployment['spec']['template']['spec']['containers'][0]
        node = [arg.split('=', 1)[1] for arg in container['args'] if arg.startswith('--hostname=')][0]
        node = node.replace('%h', docker('inspect', '--format', '{{.Config.Hostname}}', name).stdout.strip())
        proc = docker('exec', name, container['command'][0], '-m', 'celery', '-A', self.args.app_module, 'inspect',
                      'conf', '--json', '-t', '5', '-d', node, check=False, timeout=60)
        try:
            conf = json.loads(proc.stdout)[node]
        except (ValueError, KeyError):
            conf = {}
        wrong = dict((key, conf.get(key)) for key, value in self.args.expect_conf.items() if conf.get(key) != value)
        good = bool(conf) and not wrong
        self.ok = self.ok and good
        self.results.append({'situation': 'settings', 'deployment': deployment['metadata']['name'],
                             'probe': 'inspect conf', 'passed': good, 'expected': True, 'ok': good,
                             'detail': 'differ: %s' % wrong if conf else (proc.stderr or proc.stdout)[-300:]})
        environ = docker('exec', name, 'cat', '/proc/1/environ', check=False).stdout
        seen = dict(item.split('=', 1) for item in environ.split('\0') if '=' in item)
        wrong = dict((key, seen.get(key)) for key, value in self.args.expect_env.items() if seen.get(key) != value)
        self.ok = self.ok and not wrong
        self.results.append({'situation': 'settings', 'deployment': deployment['metadata']['name'],
                             'probe': 'environment', 'passed': not wrong, 'expected': True, 'ok': not wrong,
                             'detail': 'differ: %s' % wrong})

    # ---- the proof -------------------------------------------------------
    def run(self):
        deployments = by_kind(self.docs, 'Deployment')
        app = self.args.app
        worker = deployments['%s-worker-%s' % (app, self.args.group)]
        beat = deployments['%s-beat' % app]
        flower = deployments['%s-flower' % app]
        secret = by_kind(self.docs, 'Secret')['%s-secrets' % app]
        self.start_broker(secret['stringData']['CELERY_BROKER_URL'])
        for deployment in (worker, beat, flower):
            self.start_pod(deployment)
        for deployment in (worker, beat, flower):
            started = self.wait_for(deployment, 'startup', self.args.timeout)
            self.ok = self.ok and started
            self.results.append({'situation': 'healthy', 'deployment': deployment['metadata']['name'],
                                 'probe': 'startup', 'passed': started, 'expected': True, 'ok': started})
        for kind in ('readiness', 'liveness'):
            self.expect('healthy', worker, kind, True)
            self.expect('healthy', flower, kind, True)
        self.expect('healthy', beat, 'readiness', True)
        self.expect_metrics_login(flower)
        if self.args.expect_conf or self.args.expect_env:
            self.expect_settings(worker)

        # Wedged: the worker process stopped (SIGSTOP), the broker up.
        docker('kill', '--signal', 'SIGSTOP', self.containers[worker['metadata']['name']])
        self.expect_within('worker wedged, broker up', worker, 'readiness', False, 20)
        self.expect_within('worker wedged, broker up', worker, 'liveness', False, 20)
        docker('kill', '--signal', 'SIGCONT', self.containers[worker['metadata']['name']])
        recovered = self.wait_for(worker, 'readiness', self.args.timeout)
        self.ok = self.ok and recovered
        self.results.append({'situation': 'worker resumed', 'deployment': worker['metadata']['name'],
                             'probe': 'readiness', 'passed': recovered, 'expected': True, 'ok': recovered})

        # Broker outage: readiness fails, liveness must not (no restart loop).
        docker('stop', '-t', '1', self.containers['broker'])
        self.expect_within('broker down', worker, 'readiness', False, 20)
        self.expect('broker down', worker, 'liveness', True)
        # Longer than the heartbeat's maximum age: liveness still passes.
        time.sleep(12)
        self.expect('broker down 12 s later', worker, 'liveness', True)
        docker('start', self.containers['broker'])
        back = self.wait_for(worker, 'readiness', self.args.timeout)
        self.ok = self.ok and back
        self.results.append({'situation': 'broker back', 'deployment': worker['metadata']['name'],
                             'probe': 'readiness', 'passed': back, 'expected': True, 'ok': back})

        # Wedged beat: its heartbeat goes stale, readiness fails.
        docker('kill', '--signal', 'SIGSTOP', self.containers[beat['metadata']['name']])
        self.expect_within('beat wedged', beat, 'readiness', False, 20)
        docker('kill', '--signal', 'SIGCONT', self.containers[beat['metadata']['name']])

        # No "container stopped" situation: a probe of a stopped container fails whatever it
        # says, so it would prove nothing. A container that dies is restarted by the kubelet:
        # e2e_proof.py shows it (an OOM kill) on kubelet.py.

    def cleanup(self):
        if 'broker' in self.containers:
            docker('rm', '-f', self.containers['broker'], check=False)
        self.cluster.cleanup()


def _get(url, credentials='', timeout=10):
    """(status, body) of a GET, with basic auth when ``credentials`` (user:password)."""
    request = urllib.request.Request(url)
    if credentials:
        request.add_header('Authorization', 'Basic %s' % base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors='replace')
    except urllib.error.HTTPError as exc:
        return exc.code, ''
    except (urllib.error.URLError, OSError) as exc:
        return str(exc), ''


def main(proof_class=Proof, description=__doc__, prefix='celeryops-proof', arguments=None):
    """Run ``proof_class`` on the manifests of argv, print its JSON report, exit 1 when it failed;
    ``arguments`` adds a proof's own options to the parser."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument('manifests')
    parser.add_argument('--app', required=True, help='celery_app_name')
    parser.add_argument('--group', default='io', help='worker group to prove')
    parser.add_argument('--broker-image', required=True, help='an image with redis-server')
    parser.add_argument('--rabbitmq-image', default='celeryops/rabbitmq:debian12',
                        help='the RabbitMQ image, for amqp:// broker URLs')
    parser.add_argument('--prefix', default=prefix)
    parser.add_argument('--timeout', type=int, default=90, help='longest wait for one probe to pass')
    parser.add_argument('--app-module', default='celeryops_demo.celery:app', help='celery_app_module')
    parser.add_argument('--expect-conf', type=json.loads, default={},
                        help="JSON: settings the worker's inspect conf must hold")
    parser.add_argument('--expect-env', type=json.loads, default={},
                        help="JSON: variables the worker's process must have")
    if arguments:
        arguments(parser)
    args = parser.parse_args()
    proof = proof_class(args, load(args.manifests))
    try:
        proof.run()
    except Exception as exc:  # report what was seen so far
        proof.ok = False
        proof.results.append({'error': '%s: %s' % (type(exc).__name__, exc)})
    finally:
        proof.cleanup()
    print(json.dumps({'ok': proof.ok, 'results': proof.results}, indent=1, sort_keys=True))
    sys.exit(0 if proof.ok else 1)


if __name__ == '__main__':
    main()
