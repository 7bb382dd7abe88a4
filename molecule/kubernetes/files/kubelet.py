"""Run rendered pod templates on the Docker engine the way a kubelet would.

No cluster runs on these machines, so this small harness takes the objects
of a rendered manifest directory and runs each Deployment's and
StatefulSet's pod template as containers, doing what the kubelet and the
two controllers do with them:

  the pod      image, command and args; env and envFrom resolved from the
               rendered ConfigMaps and Secrets (configMapKeyRef,
               secretKeyRef, the pod's name and namespace by fieldRef);
               volumes: emptyDir as tmpfs of its sizeLimit, ConfigMap and
               Secret volumes as read-only files of their mode, claims
               (and a StatefulSet's volumeClaimTemplates) as named Docker
               volumes group-owned by fsGroup; the securityContext (user,
               group, fsGroup and supplementalGroups, read-only root, no new
               privileges, capabilities dropped and added); memory and CPU
               limits (no swap); the pod name as hostname.
  the kubelet  startup, readiness and liveness probes (exec and httpGet, on
               the pod's address) at their initialDelaySeconds and
               periodSeconds, judged by timeoutSeconds, successThreshold and
               failureThreshold; a container that exits (an OOM kill
               included, seen by Docker or in the kernel log) or fails its
               liveness or startup probe is
               restarted (restartPolicy Always) with the kubelet's backoff
               (at once, then 10 s doubling up to 300 s); a deleted pod gets
               SIGTERM and SIGKILL after terminationGracePeriodSeconds.
  controllers  replicas; a Deployment's RollingUpdate (maxSurge and
               maxUnavailable, as numbers or percentages, gated on
               readiness and minReadySeconds) or Recreate, started when the
               pod template changes (its hash, as pod-template-hash); a
               StatefulSet's pods <name>-<ordinal> with their own claims,
               replaced from the highest ordinal down, each after the one
               before is ready.

It does not model: scheduling (nodeSelector, affinity, tolerations and
topology spread are read by no one), Services and kube-proxy (pods reach
each other by name on one Docker network; --alias gives a Service's name
to chosen containers), NetworkPolicies, image pulls (images must be
local), init and sidecar containers (the roles render none), preStop hooks
(none rendered), an emptyDir that outlives a container restart (Docker's
tmpfs is new at each start; the kubelet keeps it for the pod's life),
resource requests and QoS (only limits are enforced), the API's
defaulting of fields the render leaves out beyond the kubelet's own
defaults used here.

Every wait is bounded. Events (created, ready, restarted, deleted, exited
with code and OOM flag) are kept with their times for the proofs.
"""

import base64
import hashlib
import json
import os
import random
import string
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

# The kubelet's crash-loop backoff: the first restart at once, then these.
BACKOFF_START_S = 10
BACKOFF_MAX_S = 300
# How often each pod loop looks at its container (the kubelet relists every second).
TICK_S = 1.0


def docker(*args, check=True, timeout=120):
    proc = subprocess.run(('docker',) + args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('docker %s: %s' % (' '.join(args[:2]), proc.stderr.strip()))
    return proc


def load(directory):
    docs = []
    for name in sorted(os.listdir(directory)):
        if name.endswith('.yaml'):
            with open(os.path.join(directory, name)) as handle:
                docs.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    return docs


def by_kind(docs, kind):
    return dict((doc['metadata']['name'], doc) for doc in docs if doc['kind'] == kind)


def kernel_oom_kills(container_id):
    """How often the kernel's OOM killer killed a process of this container's memory cgroup, from
    the kernel log (its oom-kill line names the cgroup, which holds the container's id). Docker's
    own OOMKilled flag misses some kills when it handles the exit first; the kubelet reads the
    runtime's, which reads the cgroup's events. None when the log cannot be read."""
    proc = subprocess.run(['dmesg'], capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        return None
    return sum(1 for line in proc.stdout.splitlines() if 'oom-kill:' in line and container_id in line)


def quantity_bytes(text):
    """A Kubernetes memory quantity (512Mi, 1G, 1048576) in bytes."""
    text = str(text)
    units = {'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'k': 10 ** 3, 'M': 10 ** 6,
             'G': 10 ** 9, 'T': 10 ** 12}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * units[suffix])
    return int(float(text))


def quantity_cpus(text):
    """A Kubernetes CPU quantity (1500m, 2, 0.5) in CPUs."""
    text = str(text)
    return int(text[:-1]) / 1000.0 if text.endswith('m') else float(text)


def scaled(value, replicas, round_up):
    """maxSurge (rounded up) or maxUnavailable (rounded down) as a count."""
    if isinstance(value, str) and value.endswith('%'):
        exact = replicas * int(value[:-1]) / 100.0
        return int(-(-exact // 1)) if round_up else int(exact // 1)
    return int(value)


def template_hash(template):
    """What tells two pod templates apart (pod-template-hash)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class Cluster:
    """The rendered ConfigMaps and Secrets, one Docker network, the pods and their events."""

    def __init__(self, docs, prefix, namespace='default'):
        self.configmaps = by_kind(docs, 'ConfigMap')
        self.secrets = by_kind(docs, 'Secret')
        self.prefix = prefix
        self.namespace = namespace
        self.network = '%s-net' % prefix
        self.tmp = tempfile.mkdtemp(prefix='celeryops-kubelet-')
        self.volumes = set()
        self.pods = []
        self.events = []
        self.lock = threading.Lock()
        docker('network', 'rm', self.network, check=False)  # left by a run that was killed
        docker('network', 'create', self.network)

    def event(self, what, pod, **detail):
        with self.lock:
            self.events.append(dict(detail, t=round(time.time(), 3), what=what, pod=pod))

    def add_objects(self, docs):
        """Take a later render's ConfigMaps and Secrets (kubectl apply of the new files)."""
        self.configmaps.update(by_kind(docs, 'ConfigMap'))
        self.secrets.update(by_kind(docs, 'Secret'))

    def secret_data(self, name):
        secret = self.secrets[name]
        data = dict((key, base64.b64decode(value).decode()) for key, value in secret.get('data', {}).items())
        data.update(secret.get('stringData', {}))
        return data

    def source(self, kind, name, optional):
        """A ConfigMap's or Secret's data; one not rendered (yours) is empty when optional and
        stops the pod otherwise, as the kubelet does."""
        objects = self.configmaps if kind == 'configMap' else self.secrets
        if name not in objects:
            if optional:
                return {}
            raise RuntimeError('%s %s is neither rendered nor optional' % (kind, name))
        return objects[name]['data'] if kind == 'configMap' else self.secret_data(name)

    def environment(self, container, pod_name):
        """envFrom in order, then env (later names win), as the kubelet resolves them."""
        env = {}
        for item in container.get('envFrom', []):
            for kind in ('configMap', 'secret'):
                ref = item.get(kind + 'Ref')
                if ref:
                    data = self.source(kind, ref['name'], ref.get('optional', False))
                    env.update((item.get('prefix', '') + key, value) for key, value in data.items())
        fields = {'metadata.name': pod_name, 'metadata.namespace': self.namespace}
        for item in container.get('env', []):
            if 'value' in item or 'valueFrom' not in item:
                env[item['name']] = item.get('value', '')
                continue
            source = item['valueFrom']
            if 'fieldRef' in source:
                env[item['name']] = fields[source['fieldRef']['fieldPath']]
                continue
            kind = 'configMap' if 'configMapKeyRef' in source else 'secret'
            ref = source[kind + 'KeyRef']
            data = self.source(kind, ref['name'], ref.get('optional', False))
            if ref['key'] in data:
                env[item['name']] = data[ref['key']]
            elif not ref.get('optional', False):
                raise RuntimeError('%s %s has no key %s' % (kind, ref['name'], ref['key']))
        return env

    def env_file(self, container, pod_name):
        """The container's environment as a `docker --env-file` (0600: it
        holds the Secrets' values); its path."""
        path = os.path.join(self.tmp, '%s.env' % pod_name)
        with open(path, 'w') as handle:
            handle.write(''.join('%s=%s\n' % item for item in sorted(self.environment(container, pod_name).items())))
        os.chmod(path, 0o600)
        return path

    def files_dir(self, volume, security):
        """A ConfigMap or Secret volume: its keys (or items) as files of defaultMode."""
        kind = 'configMap' if 'configMap' in volume else 'secret'
        spec = volume[kind]
        name = spec['name'] if kind == 'configMap' else spec['secretName']
        data = self.source(kind, name, spec.get('optional', False))
        directory = tempfile.mkdtemp(prefix='%s-' % name, dir=self.tmp)
        items = spec.get('items') or [{'key': key, 'path': key} for key in data]
        for item in items:
            path = os.path.join(directory, item['path'])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(data[item['key']])
            os.chmod(path, item.get('mode', spec.get('defaultMode', 0o644)))
            if 'fsGroup' in security:
                os.chown(path, 0, security['fsGroup'])
        os.chmod(directory, 0o755)
        return directory

    def claim(self, name, image, security):
        """A claim as a named Docker volume that outlives its pods, made group-owned by fsGroup."""
        volume = '%s-%s' % (self.prefix, name)
        if volume not in self.volumes:
            docker('volume', 'create', volume)
            self.volumes.add(volume)
            group = security.get('fsGroup')
            if group is not None:
                docker('run', '--rm', '--network', 'none', '--user', '0', '-v', '%s:/claim' % volume,
                       '--entrypoint', 'sh', image, '-c', 'chgrp %d /claim && chmod 2770 /claim' % group)
        return volume

    def cleanup(self):
        for pod in list(self.pods):
            pod.remove()
        for volume in self.volumes:
            docker('volume', 'rm', '-f', volume, check=False)
        docker('network', 'rm', self.network, check=False)


class Pod:
    """One pod of one container, and the kubelet's loop for it (a thread)."""

    def __init__(self, cluster, template, name, claims=None, aliases=()):
        self.cluster = cluster
        self.template = template
        self.hash = template_hash(template)
        self.name = name
        self.spec = template['spec']
        self.container_spec = self.spec['containers'][0]
        self.container = '%s-%s' % (cluster.prefix, name)
        self.claims = claims or {}
        self.aliases = aliases
        self.ready = False
        self.ready_since = None
        self.started = False
        self.restarts = 0
        self.deleting = False
        self.gone = threading.Event()
        self.thread = None
        self.id = None
        self.oom_kills = 0

    # ---- the container ------------------------------------------------------
    def run_argv(self):
        spec, container = self.spec, self.container_spec
        security = dict(spec.get('securityContext', {}))
        own = container.get('securityContext', {})
        user = own.get('runAsUser', security.get('runAsUser'))
        group = own.get('runAsGroup', security.get('runAsGroup'))
        env_path = self.cluster.env_file(container, self.name)
        argv = ['create', '--name', self.container, '--network', self.cluster.network,
                '--network-alias', self.name, '--hostname', self.name[:63], '--env-file', env_path,
                '--label', 'celeryops.pod=%s' % self.name, '--label', 'celeryops.template-hash=%s' % self.hash,
                '--restart', 'no']
        for alias in self.aliases:
            argv += ['--network-alias', alias]
        for key, value in sorted(self.template['metadata'].get('annotations', {}).items()):
            argv += ['--label', 'annotation.%s=%s' % (key, value)]
        if user is not None:
            argv += ['--user', '%d:%d' % (user, group if group is not None else user)]
        for extra in ([security['fsGroup']] if 'fsGroup' in security else []) + security.get('supplementalGroups', []):
            argv += ['--group-add', str(extra)]
        if own.get('readOnlyRootFilesystem'):
            argv.append('--read-only')
        if own.get('allowPrivilegeEscalation') is False:
            argv += ['--security-opt', 'no-new-privileges']
        for cap in own.get('capabilities', {}).get('drop', []):
            argv += ['--cap-drop', cap]
        for cap in own.get('capabilities', {}).get('add', []):
            argv += ['--cap-add', cap]
        limits = container.get('resources', {}).get('limits', {})
        if 'memory' in limits:
            memory = quantity_bytes(limits['memory'])
            argv += ['--memory', str(memory), '--memory-swap', str(memory)]
        if 'cpu' in limits:
            argv += ['--cpus', '%.3f' % quantity_cpus(limits['cpu'])]
        volumes = dict((volume['name'], volume) for volume in spec.get('volumes', []))
        for mount in container.get('volumeMounts', []):
            argv += self.mount_argv(mount, volumes.get(mount['name']), security)
        argv += ['--entrypoint', container['command'][0], container['image']]
        return argv + container['command'][1:] + container.get('args', [])

    def mount_argv(self, mount, volume, security):
        path = mount['mountPath']
        read_only = ':ro' if mount.get('readOnly') else ''
        group = security.get('fsGroup', security.get('runAsGroup', 0))
        if volume is None:  # a StatefulSet's volumeClaimTemplate
            return ['-v', '%s:%s%s' % (self.claims[mount['name']], path, read_only)]
        if 'emptyDir' in volume:
            size = volume['emptyDir'].get('sizeLimit')
            # The kubelet makes an emptyDir 0777, group-owned by fsGroup. Docker gives a tmpfs on a
            # directory of the image that directory's mode, so it is the pod's user's here.
            options = 'uid=%d,gid=%d,mode=2777' % (security.get('runAsUser', 0), group)
            if size:
                options += ',size=%d' % quantity_bytes(size)
            return ['--tmpfs', '%s:%s' % (path, options)]
        if 'configMap' in volume or 'secret' in volume:
            return ['-v', '%s:%s:ro' % (self.cluster.files_dir(volume, security), path)]
        if 'persistentVolumeClaim' in volume:
            name = volume['persistentVolumeClaim']['claimName']
            return ['-v', '%s:%s%s' % (self.cluster.claim(name, self.container_spec['image'], security), path,
                                       read_only)]
        raise RuntimeError('pod %s: volume %s of a kind this harness does not run' % (self.name, mount['name']))

    def state(self):
        proc = docker('inspect', '--format', '{{json .State}}', self.container, check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def address(self):
        proc = docker('inspect', '--format', '{{(index .NetworkSettings.Networks "%s").IPAddress}}'
                      % self.cluster.network, self.container, check=False)
        return proc.stdout.strip()

    # ---- probes ---------------------------------------------------------------
    def probe(self, kind):
        """(passed, detail) of one run of the container's probe of `kind`, as the kubelet judges it."""
        probe = self.container_spec['%sProbe' % kind]
        timeout = probe.get('timeoutSeconds', 1)
        if 'exec' in probe:
            try:
                proc = docker('exec', self.container, *probe['exec']['command'], check=False, timeout=timeout)
            except subprocess.TimeoutExpired:
                return False, 'timed out after %ss' % timeout
            return proc.returncode == 0, (proc.stderr or proc.stdout).strip()[-200:]
        http = probe['httpGet']
        port = http['port']
        if not isinstance(port, int):
            port = [item['containerPort'] for item in self.container_spec['ports'] if item['name'] == port][0]
        url = 'http://%s:%d%s' % (self.address(), port, http.get('path', '/'))
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return 200 <= response.status < 400, '%s -> %d' % (http.get('path', '/'), response.status)
        except urllib.error.HTTPError as exc:
            return False, '%s -> %d' % (http.get('path', '/'), exc.code)
        except (urllib.error.URLError, OSError) as exc:
            return False, '%s -> %s' % (http.get('path', '/'), exc)

    # ---- the kubelet's loop -----------------------------------------------------
    def start(self, kubelet=True):
        """Create and start the container; with `kubelet`, run the kubelet's loop for it
        (probes, restarts) in a thread, else leave the probes to the caller."""
        with self.cluster.lock:
            self.cluster.pods.append(self)
        self.id = docker(*self.run_argv()).stdout.strip()
        self.oom_kills = kernel_oom_kills(self.id) or 0
        docker('start', self.container)
        self.cluster.event('created', self.name, hash=self.hash)
        if kubelet:
            self.thread = threading.Thread(target=self.loop, name=self.name, daemon=True)
            self.thread.start()

    def set_ready(self, ready):
        if ready != self.ready:
            self.ready = ready
            self.ready_since = time.time() if ready else None
            self.cluster.event('ready' if ready else 'unready', self.name)

    def loop(self):
        backoff, restart_at, schedule = 0, None, self.reset_probes()
        while not self.deleting:
            time.sleep(TICK_S)
            if self.deleting:
                break
            state = self.state()
            if state is None or self.deleting:  # its exit is the deletion's, not a crash
                break
            now = time.time()
            if not state['Running']:
                if restart_at is None:
                    self.set_ready(False)
                    kills = kernel_oom_kills(self.id)
                    by_kernel = kills is not None and kills > self.oom_kills
                    self.oom_kills = kills if kills is not None else self.oom_kills
                    self.cluster.event('exited', self.name, code=state['ExitCode'],
                                       oom_killed=bool(state['OOMKilled'] or by_kernel),
                                       oom_seen_by={'docker': bool(state['OOMKilled']), 'kernel': by_kernel},
                                       restarts=self.restarts)
                    restart_at = now + backoff
                    backoff = min(max(backoff * 2, BACKOFF_START_S), BACKOFF_MAX_S)
                if now >= restart_at and not self.deleting:
                    restart_at = None
                    docker('start', self.container, check=False)
                    self.restarts += 1
                    self.cluster.event('restarted', self.name, restarts=self.restarts)
                    schedule = self.reset_probes()
                continue
            reason = self.run_due_probes(schedule, now)
            if reason:
                self.cluster.event('killing', self.name, reason=reason)
                self.set_ready(False)
                docker('stop', '-t', str(self.grace()), self.container, check=False,
                       timeout=self.grace() + 30)

    def reset_probes(self):
        """Per probe: when it runs next and its consecutive results."""
        self.started = 'startupProbe' not in self.container_spec
        start = time.time()
        return dict((kind, {'next': start + self.container_spec[kind + 'Probe'].get('initialDelaySeconds', 0),
                            'ok': 0, 'failed': 0})
                    for kind in ('startup', 'readiness', 'liveness') if kind + 'Probe' in self.container_spec)

    def run_due_probes(self, schedule, now):
        """Run the probes that are due; the reason to kill the container, if any."""
        for kind in ('startup', 'liveness', 'readiness'):
            if kind not in schedule or now < schedule[kind]['next']:
                continue
            if (kind == 'startup') == self.started:  # startup runs until it passes; the others after
                continue
            probe = self.container_spec[kind + 'Probe']
            passed, detail = self.probe(kind)
            record = schedule[kind]
            record['next'] = time.time() + probe.get('periodSeconds', 10)
            record['ok'], record['failed'] = (record['ok'] + 1, 0) if passed else (0, record['failed'] + 1)
            threshold = probe.get('failureThreshold', 3)
            if kind == 'startup':
                if passed:
                    self.started = True
                    self.cluster.event('started', self.name)
                    for other in ('readiness', 'liveness'):
                        if other in schedule:
                            schedule[other]['next'] = time.time()
                elif record['failed'] >= threshold:
                    return 'startup probe failed %d times: %s' % (record['failed'], detail)
            elif kind == 'liveness' and record['failed'] >= threshold:
                return 'liveness probe failed %d times: %s' % (record['failed'], detail)
            elif kind == 'readiness':
                if passed and record['ok'] >= probe.get('successThreshold', 1):
                    self.set_ready(True)
                elif not passed and record['failed'] >= threshold:
                    self.set_ready(False)
        if 'readiness' not in schedule and self.started:
            self.set_ready(True)
        return None

    def grace(self):
        return int(self.spec.get('terminationGracePeriodSeconds', 30))

    def delete(self):
        """Delete the pod: SIGTERM, SIGKILL after its grace period; returns once it is gone."""
        self.deleting = True
        self.set_ready(False)
        self.cluster.event('deleting', self.name)
        start = time.time()
        docker('stop', '-t', str(self.grace()), self.container, check=False, timeout=self.grace() + 30)
        state = self.state() or {}
        self.cluster.event('deleted', self.name, code=state.get('ExitCode'), after_s=round(time.time() - start, 1))
        if self.thread:
            self.thread.join(10)
        self.remove()
        self.gone.set()

    def remove(self):
        docker('rm', '-f', self.container, check=False)
        with self.cluster.lock:
            if self in self.cluster.pods:
                self.cluster.pods.remove(self)

    def exec(self, *argv, timeout=60):
        return docker('exec', self.container, *argv, check=False, timeout=timeout)


def wait_until(predicate, limit, step=0.5):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Workload:
    """A Deployment or a StatefulSet and its pods, as its controller keeps them."""

    def __init__(self, cluster, obj, replicas=None, aliases=()):
        self.cluster = cluster
        self.obj = obj
        self.name = obj['metadata']['name']
        self.kind = obj['kind']
        self.replicas = obj['spec'].get('replicas', 1) if replicas is None else replicas
        self.aliases = aliases
        self.pods = []
        self.terminating = []
        # Seen during a rollout: the most pods at once, the fewest ready.
        self.most_pods = self.fewest_ready = None

    @property
    def template(self):
        return self.obj['spec']['template']

    def new_pod(self, ordinal=None):
        if self.kind == 'StatefulSet':
            name = '%s-%d' % (self.name, ordinal)
            claims = dict((tpl['metadata']['name'],
                           self.cluster.claim('%s-%s' % (tpl['metadata']['name'], name), self.template['spec'][
                               'containers'][0]['image'], self.template['spec'].get('securityContext', {})))
                          for tpl in self.obj['spec'].get('volumeClaimTemplates', []))
        else:
            suffix = ''.join(random.choice(string.ascii_lowercase + string.digits) for _char in range(5))
            name, claims = '%s-%s-%s' % (self.name, template_hash(self.template), suffix), None
        pod = Pod(self.cluster, self.template, name, claims, self.aliases)
        pod.start()
        self.pods.append(pod)
        return pod

    def start(self, limit):
        """Create the replicas (a StatefulSet's in order, each after the one before is ready)."""
        for ordinal in range(self.replicas):
            pod = self.new_pod(ordinal)
            if self.kind == 'StatefulSet' and not wait_until(lambda: pod.ready, limit):
                raise RuntimeError('%s not ready within %d s' % (pod.name, limit))
        return self.wait_ready(limit)

    def ready_pods(self, current_only=False):
        min_ready = self.obj['spec'].get('minReadySeconds', 0)
        now = time.time()
        return [pod for pod in self.pods if pod.ready and now - pod.ready_since >= min_ready
                and (not current_only or pod.hash == template_hash(self.template))]

    def wait_ready(self, limit):
        return wait_until(lambda: len(self.ready_pods(True)) >= self.replicas, limit)

    def delete_pod(self, pod, wait=False):
        self.pods.remove(pod)
        self.terminating.append(pod)
        thread = threading.Thread(target=pod.delete, daemon=True)
        thread.start()
        if wait:
            thread.join(pod.grace() + 60)

    def observe(self):
        live = len(self.pods)
        ready = len(self.ready_pods())
        self.most_pods = live if self.most_pods is None else max(self.most_pods, live)
        self.fewest_ready = ready if self.fewest_ready is None else min(self.fewest_ready, ready)

    def apply(self, obj, limit):
        """Apply a new render of the object: when its pod template changed, roll the pods to it
        under the object's strategy. True when every pod runs the new template and is ready."""
        self.obj = obj
        if 'replicas' in obj['spec']:  # else an autoscaler's count stands
            self.replicas = obj['spec']['replicas']
        want = template_hash(self.template)
        if all(pod.hash == want for pod in self.pods):
            self.cluster.event('unchanged', self.name)
            return True
        self.cluster.event('rollout', self.name, hash=want)
        self.most_pods = self.fewest_ready = None
        deadline = time.time() + limit
        if self.kind == 'StatefulSet':
            done = self.roll_statefulset(want, deadline)
        elif self.obj['spec'].get('strategy', {}).get('type', 'RollingUpdate') == 'Recreate':
            for pod in list(self.pods):
                self.delete_pod(pod, wait=True)
            for _replica in range(self.replicas):
                self.new_pod()
            done = self.wait_ready(max(1, deadline - time.time()))
        else:
            done = self.roll_deployment(want, deadline)
        for pod in list(self.terminating):
            pod.gone.wait(max(1, deadline - time.time()))
        self.terminating = [pod for pod in self.terminating if not pod.gone.is_set()]
        self.cluster.event('rolled out' if done else 'rollout stuck', self.name)
        return done

    def roll_deployment(self, want, deadline):
        update = self.obj['spec'].get('strategy', {}).get('rollingUpdate', {})
        surge = scaled(update.get('maxSurge', '25%'), self.replicas, True)
        unavailable = scaled(update.get('maxUnavailable', '25%'), self.replicas, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1  # what the API server would make of it
        while time.time() < deadline:
            self.observe()
            old = [pod for pod in self.pods if pod.hash != want]
            new = [pod for pod in self.pods if pod.hash == want]
            if not old and len(self.ready_pods(True)) >= self.replicas:
                return True
            if len(new) < self.replicas and len(self.pods) < self.replicas + surge:
                self.new_pod()
                continue
            if old and len(self.ready_pods()) - (1 if old[0].ready else 0) >= self.replicas - unavailable:
                # Not-ready old pods go first: removing them costs no availability.
                old.sort(key=lambda pod: pod.ready)
                self.delete_pod(old[0])
                continue
            time.sleep(TICK_S)
        return False

    def roll_statefulset(self, want, deadline):
        for pod in sorted(self.pods, key=lambda item: int(item.name.rsplit('-', 1)[1]), reverse=True):
            ordinal = int(pod.name.rsplit('-', 1)[1])
            self.delete_pod(pod, wait=True)
            new = self.new_pod(ordinal)
            if not wait_until(lambda: new.ready, max(1, deadline - time.time())):
                return False
        return True
