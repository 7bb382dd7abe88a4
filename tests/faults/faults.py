"""Fault tests on a deployed demo app: nothing lost across restarts, crashes
and broker outages. `make faults` deploys the demo (Compose and systemd),
runs this against each, and removes it.

Each fault is bounded in count and time and reports tasks sent, completed,
lost and duplicated (the demo's `record` task counts its runs in Redis):

  1. rolling restart of every worker, one at a time, under load
  2. SIGKILL of a worker's main process during long tasks (acks_late +
     reject_on_worker_lost; visibility timeout shortened by the deployment)
  3. broker stopped for 10 s: every worker reports `reconnecting` during it
     (the outage reached it), every node answers a ping afterwards, and new
     tasks complete
  4. a configuration change (concurrency) deployed by the roles under load
  5. beat restarted mid-schedule (its PID or container start changes): no
     periodic run doubled, none skipped beyond one interval

Writes .cache/faults/<platform>.json and prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENT = open(os.path.join(HERE, 'client.py')).read()


def run(argv, timeout=600, check=True, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(argv[:4]), (proc.stderr or proc.stdout)[-400:]))
    return proc


KILL_MAIN = (
    "import os, signal\n"
    "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
    "    try:\n"
    "        stat = open('/proc/%s/stat' % pid).read()\n"
    "    except OSError:\n"
    "        continue\n"
    "    if stat.rsplit(')', 1)[1].split()[1] == '1':\n"
    "        os.kill(int(pid), signal.SIGKILL)\n"
)


# Where the launcher (roles/celery_common/files/celeryops-celery.py) writes
# each worker's heartbeat: its state, e.g. `reconnecting` while the broker
# is away. systemd: /run/celery/<app>/worker-<group>@<n>.heartbeat.
HEARTBEAT_COMPOSE = '/tmp/celeryops-heartbeat.json'


def heartbeat_state(text):
    try:
        return json.loads(text).get('state')
    except ValueError:
        return None


class Compose:
    """The demo as Compose project celeryops-demo on this machine."""
    name = 'compose'
    project = 'celeryops-demo'

    def __init__(self, args):
        self.args = args
        self.dir = '/opt/celery/%s' % self.project
        self.image = args.image

    def client(self, *argv, timeout=300):
        # A container of its own (no fault touches it), with the app's secrets
        # through the same entry point the workers use.
        cmd = ['docker', 'run', '--rm', '-i', '--network', '%s_default' % self.project, '--user', '10001:10001',
               '-v', '%s/secrets/celery.env:/run/secrets/celery_env:ro' % self.dir,
               '-v', '%s/celeryops-exec.sh:/run/celeryops/exec.sh:ro' % self.dir,
               '--entrypoint', '/bin/sh', self.image, '/run/celeryops/exec.sh', 'python3', '-'] + list(argv)
        return json.loads(run(cmd, timeout=timeout, input=CLIENT).stdout)

    def containers(self, component, group=None):
        argv = ['docker', 'ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % self.project,
                '--filter', 'label=io.celeryops.component=%s' % component]
        if group:
            argv += ['--filter', 'label=io.celeryops.group=%s' % group]
        return sorted(run(argv).stdout.split())

    def workers(self):
        return self.containers('worker')

    def restart(self, worker):
        run(['docker', 'restart', '-t', '120', worker], timeout=200)

    def windows(self, since):
        """Worker node -> [when it was first told to stop (SIGTERM) since
        `since`, when it was started again after that, or None]. The rollout
        runs the health test itself before the next container (Docker's own
        health status lags by its interval), so the start is what events show."""
        out = run(['docker', 'events', '--since', '%.3f' % since, '--until', '%.3f' % time.time(),
                   '--filter', 'type=container',
                   '--filter', 'label=com.docker.compose.project=%s' % self.project,
                   '--filter', 'label=io.celeryops.component=worker', '--format',
                   '{{.Actor.ID}} {{.TimeNano}} {{index .Actor.Attributes "signal"}}. '
                   '{{index .Actor.Attributes "io.celeryops.group"}} {{.Action}}']).stdout
        windows = {}
        for line in out.splitlines():
            container, nanos, signal_number, group, action = line.split(' ', 4)
            # The node name is <group>@<hostname>, the container's short id.
            node = '%s@%s' % (group, container[:12])
            if action == 'kill' and signal_number == '15.':
                windows.setdefault(node, [int(nanos) / 1e9, None])
            elif action == 'start' and node in windows and windows[node][1] is None:
                windows[node][1] = int(nanos) / 1e9
        return windows

    def kill(self, group):
        worker = self.containers('worker', group)[0]
        before = run(['docker', 'inspect', '-f', '{{.RestartCount}}', worker]).stdout.strip()
        # SIGKILL to Celery's main process (the child of Docker's init), as a
        # crash would: `docker kill` counts as a deliberate stop and the
        # restart policy would leave the container down.
        proc = run(['docker', 'exec', worker, 'python3', '-c', KILL_MAIN], check=False)
        # 137: the container stopped (its init followed Celery) while the
        # exec'd killer was still finishing; came_back() proves the restart.
        if proc.returncode not in (0, 137):
            raise RuntimeError('killing Celery in %s failed (rc %d): %s' % (worker, proc.returncode, proc.stderr[-400:]))
        return worker, before

    def came_back(self, handle):
        worker, before = handle
        deadline = time.time() + 60
        while time.time() < deadline:
            state = run(['docker', 'inspect', '-f', '{{.State.Running}} {{.RestartCount}}', worker]).stdout.split()
            if state[0] == 'true' and state[1] != before:
                return True
            time.sleep(1)
        return False

    def broker(self, action):
        run(['docker', action] + (['-t', '10'] if action == 'stop' else []) + self.containers('broker'))

    def worker_states(self):
        """Worker container -> the state its heartbeat file reports (the
        launcher's: consuming, reconnecting...), or None when unreadable."""
        states = {}
        for worker in self.workers():
            proc = run(['docker', 'exec', worker, 'cat', HEARTBEAT_COMPOSE], check=False)
            states[worker[:12]] = heartbeat_state(proc.stdout)
        return states

    def beat_restart(self):
        run(['docker', 'restart', '-t', '60'] + self.containers('beat'), timeout=120)

    def beat_identity(self):
        """When beat's container last started (a restart changes it)."""
        return run(['docker', 'inspect', '-f', '{{.State.StartedAt}}'] + self.containers('beat')).stdout.strip()

    def inventory(self):
        return os.path.join(ROOT, '.cache', 'demo', 'inventory-compose.yml')


class Systemd:
    """The demo on the systemd container celeryops-demo-host (broker in celeryops-demo-broker)."""
    name = 'systemd'
    host = 'celeryops-demo-host'
    broker_host = 'celeryops-demo-broker'

    def __init__(self, args):
        self.args = args

    def client(self, *argv, timeout=300):
        script = ('set -a; . /etc/celery/demo/celery.env; set +a; '
                  'exec setpriv --reuid=demo --regid=demo --init-groups /opt/celery/demo/instances/worker-io@1/bin/python - "$@"')
        cmd = ['docker', 'exec', '-i', self.host, 'bash', '-c', script, 'client'] + list(argv)
        return json.loads(run(cmd, timeout=timeout, input=CLIENT).stdout)

    def units(self, pattern):
        out = run(['docker', 'exec', self.host, 'systemctl', 'list-units', '--plain', '--no-legend', '--state=active',
                   pattern]).stdout
        return sorted(line.split()[0] for line in out.splitlines() if line.strip())

    def workers(self):
        return self.units('demo-worker-*')

    def restart(self, unit):
        run(['docker', 'exec', self.host, 'systemctl', 'restart', unit], timeout=400)

    def windows(self, since):
        """Worker node -> [when systemd first began to stop it since `since`,
        when it was started again (Type=notify: READY, consuming), or None]."""
        windows = {}
        for unit in self.workers():
            out = run(['docker', 'exec', self.host, 'journalctl', '--unit', unit, '--output', 'short-unix',
                       '--no-pager', '--since', '@%d' % int(since)]).stdout
            group, number = unit[len('demo-worker-'):-len('.service')].split('@')
            node = '%s%s@%s' % (group, number, self.host)
            for line in out.splitlines():
                if 'Stopping %s' % unit in line and node not in windows:
                    windows[node] = [float(line.split()[0]), None]
                elif 'Started %s' % unit in line and node in windows:
                    windows[node][1] = float(line.split()[0])
                    break
        return windows

    def kill(self, group):
        unit = [u for u in self.workers() if u.startswith('demo-worker-%s@' % group)][0]
        before = run(['docker', 'exec', self.host, 'systemctl', 'show', '-p', 'NRestarts', '--value', unit]).stdout
        run(['docker', 'exec', self.host, 'systemctl', 'kill', '--kill-whom=main', '--signal=KILL', unit])
        return unit, before.strip()

    def came_back(self, handle):
        unit, before = handle
        deadline = time.time() + 60
        while time.time() < deadline:
            now = run(['docker', 'exec', self.host, 'systemctl', 'show', '-p', 'NRestarts', '--value', unit]).stdout
            active = run(['docker', 'exec', self.host, 'systemctl', 'is-active', unit], check=False).stdout.strip()
            if now.strip() != before and active == 'active':
                return True
            time.sleep(1)
        return False

    def broker(self, action):
        service = 'rabbitmq-server' if self.args.broker == 'rabbitmq' else 'redis-server'
        run(['docker', 'exec', self.broker_host, 'systemctl', action, service], timeout=120)

    def worker_states(self):
        """Worker unit -> the state its heartbeat file reports, or None."""
        states = {}
        for unit in self.workers():
            path = '/run/celery/demo/%s.heartbeat' % unit[len('demo-'):-len('.service')]
            proc = run(['docker', 'exec', self.host, 'cat', path], check=False)
            states[unit] = heartbeat_state(proc.stdout)
        return states

    def beat_restart(self):
        run(['docker', 'exec', self.host, 'systemctl', 'restart', 'demo-beat'], timeout=120)

    def beat_identity(self):
        """Beat's main PID (a restart changes it; 0 when it is not running)."""
        return run(['docker', 'exec', self.host, 'systemctl', 'show', '-p', 'MainPID', '--value',
                    'demo-beat']).stdout.strip()

    def inventory(self):
        return os.path.join(ROOT, '.cache', 'demo', 'inventory.yml')


def tally(platform, label, prefix, count, timeout):
    """Runs per token; after every token ran, the settle window (longer than
    the visibility timeout) passes before duplicates are counted."""
    result = platform.client('collect', '--prefix', prefix, '--count', str(count), '--timeout', str(timeout),
                             '--settle', str(platform.args.visibility_timeout + 5),
                             timeout=timeout + platform.args.visibility_timeout + 120)
    result['fault'] = label
    return result


def send(platform, prefix, queue, count, seconds, start=0, countdown=0.0):
    platform.client('send', '--prefix', prefix, '--queue', queue, '--count', str(count), '--seconds', str(seconds),
                    '--start', str(start), '--countdown', str(countdown))


def attempts(platform, prefix):
    """token -> [{node, pid, start, end}] of every attempt (end None: it never finished)."""
    return platform.client('attempts', '--prefix', prefix)['attempts']


def playbook(platform, name, extra=None, timeout=900):
    """Run a playbook of the installed collection against the demo inventory."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'demo', 'collections'),
               ANSIBLE_NOCOLOR='1')
    argv = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', platform.inventory(),
            'celeryops.deploy.%s' % name]
    if extra:
        argv += ['--limit', 'celery_workers', '-e', json.dumps(extra)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def most_down(windows):
    """The most instances that were down (told to stop and not yet consuming
    again) at one moment; one that never came back counts to the end."""
    edges = sorted([(stop, 1) for stop, _back in windows.values()]
                   + [(back, -1) for _stop, back in windows.values() if back is not None],
                   key=lambda edge: (edge[0], edge[1]))
    down = worst = 0
    for _at, step in edges:
        down += step
        worst = max(worst, down)
    return worst


def fault_rolling_restart(platform, tag):
    """celeryops.deploy.rolling_restart (serial: 1, one worker at a time) with
    more work queued than the workers hold: every instance must have had a
    task running when it was told to stop, and that task must finish."""
    prefix = 'roll-%s' % tag
    io_count, cpu_count = 400, 60
    send(platform, prefix, 'io', io_count, 1.0)
    send(platform, prefix, 'cpu', cpu_count, 2.0, start=io_count)
    started = time.time()
    play = playbook(platform, 'rolling_restart')
    play.wait(timeout=900)
    took = time.time() - started
    windows = platform.windows(started)  # node -> [told to stop, consuming again]
    result = tally(platform, 'rolling restart', prefix, io_count + cpu_count, 300)
    runs = attempts(platform, prefix)
    overlap = {}
    for node, (stopped, _back) in windows.items():
        overlap[node] = sum(1 for token_runs in runs.values() for run in token_runs
                            if run['node'] == node and run['start'] < stopped
                            and run['end'] is not None and run['end'] > stopped)
    cut = sum(1 for token_runs in runs.values() for run in token_runs if run['end'] is None)
    down = most_down(windows)
    result.update(fault='playbook rolling_restart over %d workers (serial, %.0f s, rc %s), %d tasks of'
                  ' 1-2 s queued (more than the workers hold); tasks running when each instance was told to stop'
                  ' and finished by its warm shutdown: %s; attempts cut short: %d; most instances down at once: %d'
                  % (len(platform.workers()), took, play.returncode, io_count + cpu_count,
                     ', '.join('%s %d' % item for item in sorted(overlap.items())) or 'NO STOP SEEN', cut, down),
                  deployed=play.returncode == 0, stops=len(windows), overlap=overlap, cut=cut, most_down=down,
                  proven=len(windows) == len(platform.workers()) and all(overlap.values()) and cut == 0
                  and down == 1)
    return result


def fault_kill(platform, tag, visibility):
    """SIGKILL of the cpu worker while 6 s tasks run: the attempts running at
    the kill never finish, and each of their tokens runs again later."""
    prefix = 'kill-%s' % tag
    send(platform, prefix, 'cpu', 6, 6.0)
    time.sleep(2)
    killed_at = time.time()
    handle = platform.kill('cpu')
    back = platform.came_back(handle)
    result = tally(platform, 'kill', prefix, 6, visibility + 90)
    runs = attempts(platform, prefix)
    cut = dict((token, [run for run in token_runs if run['start'] < killed_at and run['end'] is None])
               for token, token_runs in runs.items())
    cut = dict((token, killed) for token, killed in cut.items() if killed)
    again = dict((token, min(run['start'] for run in runs[token] if run['start'] > killed_at and run['end']))
                 for token in cut if any(run['start'] > killed_at and run['end'] for run in runs[token]))
    delay = '%.0f' % (min(again.values()) - killed_at) if again else '-'
    result['fault'] = ('SIGKILL of the cpu worker main process during 6 s tasks; back by restart policy: %s;'
                       ' %d attempts running at the kill never finished, %d of their tasks delivered again'
                       ' and run (first %s s after the kill)'
                       % ('yes' if back else 'NO', len(cut), len(again), delay))
    result.update(restarted=back, running_at_kill=len(cut), redelivered=len(again),
                  proven=bool(cut) and len(again) == len(cut))
    return result


def fault_broker(platform, tag, nodes, outage_s=10):
    """The broker stopped for `outage_s`: the outage must reach every worker
    (its heartbeat reports `reconnecting` while the broker is away, read each
    second), then every node answers a ping and new tasks complete."""
    platform.broker('stop')
    stopped = time.time()
    seen = {}
    try:
        while True:
            for worker, state in platform.worker_states().items():
                seen.setdefault(worker, set()).add(state)
            if time.time() - stopped >= outage_s:
                break
            time.sleep(1)
    finally:
        # Back whatever happened above: the rows after this one need it.
        platform.broker('start')
    ping = platform.client('ping', '--nodes', str(nodes), '--timeout', '90')
    prefix = 'broker-%s' % tag
    send(platform, prefix, 'io', 10, 0.2)
    send(platform, prefix, 'cpu', 10, 0.2, start=10)
    result = tally(platform, 'broker', prefix, 20, 60)
    reached = sorted(worker for worker, states in seen.items() if 'reconnecting' in states)
    result.update(fault='broker stopped %d s; workers that reported reconnecting during it: %d of %d; %d of %d'
                  ' nodes answered ping %.0f s after restart; 20 new tasks'
                  % (outage_s, len(reached), len(seen), ping['answered'], nodes, ping['seconds']),
                  nodes_answered=ping['answered'], nodes=nodes,
                  states=dict((worker, sorted(str(state) for state in states)) for worker, states in seen.items()),
                  proven=bool(seen) and len(reached) == len(seen) == nodes)
    return result


def fault_config_change(platform, tag, args):
    """Tasks keep arriving, a batch every few seconds, for as long as the
    roles take to deploy the change (which recreates or restarts the cpu
    workers with a warm shutdown); then every cpu node runs the new
    concurrency (inspect stats)."""
    prefix = 'config-%s' % tag
    want = [group['concurrency'] for group in json.loads(args.changed_groups) if group['name'] == 'cpu'][0]
    started = time.time()
    play = playbook(platform, 'site', {'celery_worker_groups': json.loads(args.changed_groups)})
    sent = 0
    while play.poll() is None and time.time() - started < 900:
        send(platform, prefix, 'cpu', 4, 1.0, start=sent)
        sent += 4
        time.sleep(2)
    if play.poll() is None:
        play.kill()
    took = time.time() - started
    totals = tally(platform, 'config', prefix, sent, 120)
    stats = platform.client('stats', '--nodes', str(len(platform.workers())))['concurrency']
    cpu = dict((node, value) for node, value in stats.items() if node.startswith('cpu'))
    totals['fault'] = ('cpu concurrency 2 -> %d deployed by the roles (%.0f s, rc %s) while 4 tasks of 1 s'
                       ' arrived every few seconds; inspect stats then: %s'
                       % (want, took, play.returncode, ', '.join('%s %s' % item for item in sorted(cpu.items()))))
    totals['deployed'] = play.returncode == 0
    totals['proven'] = bool(cpu) and set(cpu.values()) == set([want])
    return totals


def fault_beat(platform, interval):
    """Beat restarted mid-schedule: the runs the schedule owed in the window
    against those that came, and runs after the restart (beat came back)."""
    since = time.time()
    time.sleep(8)
    before = platform.beat_identity()
    started = time.time()
    platform.beat_restart()
    restart_s = time.time() - started
    after_restart = platform.beat_identity()
    time.sleep(12)
    until = time.time()
    ticks = [tick for tick in platform.client('ticks', '--since', str(since))['ticks'] if tick <= until]
    owed = int((until - since) / interval)
    after = [tick for tick in ticks if tick > started + restart_s]
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:])]
    doubled = sum(1 for gap in gaps if gap < interval / 2.0)
    # One run may fall on either edge of the window.
    missing = max(0, owed - len(ticks) - 1)
    return {'fault': 'beat restarted mid-schedule (tick every %g s; restart took %.1f s): %d runs owed in %.0f s,'
                     ' %d came, %d after the restart' % (interval, restart_s, owed, until - since, len(ticks),
                                                         len(after)),
            'sent': owed, 'completed': len(ticks), 'lost': missing, 'duplicated': doubled,
            'longest_gap_s': round(max(gaps) if gaps else 0.0, 2), 'after_restart': len(after),
            'beat_before': before, 'beat_after': after_restart,
            # Ticks after the restart come from a beat that was never restarted
            # too: its PID (or container start) must have changed.
            'proven': (len(after) >= int(12 / interval) - 1 and after_restart not in ('', '0')
                       and after_restart != before)}


def why_failed(result):
    """The reasons a row fails, each a short word (empty: the row passes).
    A row passes when nothing was lost or doubled and `proven`: the fault
    happened as the row says (a task was running at the kill, the instance
    stopped under load, the new setting runs...)."""
    reasons = []
    if 'error' in result:
        reasons.append('error')
    if result.get('lost') != 0:
        reasons.append('lost')
    if result.get('duplicated') != 0:
        reasons.append('duplicated')
    if not result.get('restarted', True):
        reasons.append('not restarted')
    if not result.get('deployed', True):
        reasons.append('not deployed')
    # A row without its proof is unproven: every fault sets `proven`.
    if result.get('proven') is not True:
        reasons.append('unproven')
    if result.get('nodes_answered', 0) < result.get('nodes', 0):
        reasons.append('nodes silent')
    return reasons


def row_ok(result):
    return not why_failed(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--platform', choices=('compose', 'systemd'), required=True)
    parser.add_argument('--image', default='celeryops/demo-app:latest')
    parser.add_argument('--broker', choices=('redis', 'rabbitmq'), default='redis',
                        help='the demo broker (systemd): rabbitmq redelivers at once, so --visibility-timeout 0')
    parser.add_argument('--visibility-timeout', type=int, default=20)
    parser.add_argument('--tick', type=float, default=2.0)
    parser.add_argument('--changed-groups', required=True, help='JSON worker groups with the changed concurrency')
    args = parser.parse_args()
    platform = (Compose if args.platform == 'compose' else Systemd)(args)
    platform_label = args.platform + (' (RabbitMQ, quorum queues)' if args.broker == 'rabbitmq' else '')
    name = args.platform + ('-rabbitmq' if args.broker == 'rabbitmq' else '')
    tag = str(int(time.time()))
    results = []
    nodes = len(platform.workers())
    steps = (
        ('rolling restart', lambda: fault_rolling_restart(platform, tag)),
        ('SIGKILL', lambda: fault_kill(platform, tag, args.visibility_timeout)),
        ('broker outage', lambda: fault_broker(platform, tag, nodes)),
        ('config change', lambda: fault_config_change(platform, tag, args)),
        ('beat restart', lambda: fault_beat(platform, args.tick)),
    )
    ok = True
    for label, step in steps:
        started = time.time()
        try:
            result = step()
        except Exception as exc:  # record and go on: the table shows what failed
            result = {'fault': label, 'error': '%s: %s' % (type(exc).__name__, exc)}
        result['seconds'] = round(time.time() - started, 1)
        good = row_ok(result)
        result['ok'] = good
        ok = ok and good
        results.append(result)
        print(json.dumps(result), flush=True)
    out = os.path.join(ROOT, '.cache', 'faults')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, '%s.json' % name), 'w') as handle:
        json.dump(results, handle, indent=1)
    print('\n| platform | fault | sent | completed | lost | duplicated | s |\n|---|---|---|---|---|---|---|')
    for result in results:
        print('| %s | %s | %s | %s | %s | %s | %s |' % (
            platform_label, result.get('fault'), result.get('sent', '-'), result.get('completed', '-'),
            result.get('lost', '-'), result.get('duplicated', '-'), result.get('seconds')))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
