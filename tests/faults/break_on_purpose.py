"""Break each fault on purpose: the harness must then fail its row.

Run against the systemd demo deployed as `make faults` deploys it
(PLATFORM=systemd DEMO_VISIBILITY_TIMEOUT=20 scripts/demo.sh). Each case
replaces one step of a fault with one that does not do what the row says:
beat stopped for good instead of restarted, beat not restarted at all, the
broker outage skipped, the changed setting dropped, the rolling restart
skipped, every worker restarted at once instead of one at a time, the
SIGKILL skipped, and a duplicate that runs after every token had run once. Prints one line per case; exits 1 when any row still passes.
"""

import json
import os
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import faults  # noqa: E402

CHANGED = [{'name': 'io', 'queues': ['io', 'celery'], 'pool': 'threads', 'concurrency': 16},
           {'name': 'cpu', 'queues': ['cpu'], 'pool': 'prefork', 'concurrency': 3, 'instances': 2,
            'prefetch_multiplier': 1}]


class Done(object):
    """A playbook run that did nothing and succeeded."""
    returncode = 0

    def wait(self, timeout=None):
        return 0

    def poll(self):
        return 0


def late_duplicate(platform, tag):
    """Four tokens run once; token 0 is sent again, due 8 s later (as a
    redelivery after the visibility timeout would run it). Collecting as the
    harness did before (stop once every token ran) misses it."""
    prefix = 'late-%s' % tag
    faults.send(platform, prefix, 'io', 4, 0.2)
    faults.send(platform, prefix, 'io', 1, 0.2, countdown=8.0)
    early = platform.client('collect', '--prefix', prefix, '--count', '4', '--timeout', '60', '--settle', '0')
    result = faults.tally(platform, 'late duplicate', prefix, 4, 60)
    result['fault'] = ('token 0 run again 8 s after the first runs: without the settle window %d duplicated,'
                       ' with it %d' % (early['duplicated'], result['duplicated']))
    # The fault happened as described: only the duplicate may fail the row.
    result['proven'] = True
    return result


def main():
    args = types.SimpleNamespace(platform='systemd', image='', visibility_timeout=20, tick=2.0,
                                 changed_groups=json.dumps(CHANGED))
    platform = faults.Systemd(args)
    tag = 'brk%d' % int(time.time())
    out = {}
    out['late duplicate'] = late_duplicate(platform, tag)
    # Beat stopped for good instead of restarted.
    platform.beat_restart = lambda: faults.run(['docker', 'exec', platform.host, 'systemctl', 'stop', 'demo-beat'])
    out['beat never comes back'] = faults.fault_beat(platform, 2.0)
    faults.run(['docker', 'exec', platform.host, 'systemctl', 'start', 'demo-beat'])
    # Beat never restarted: its ticks go on, as a restarted beat's would.
    platform.beat_restart = lambda: None
    out['restart skipped'] = faults.fault_beat(platform, 2.0)
    del platform.beat_restart  # the class's own again
    # The broker never stopped: every node answers and new tasks complete.
    platform.broker = lambda action: None
    out['outage skipped'] = faults.fault_broker(platform, tag, len(platform.workers()))
    del platform.broker
    # The setting dropped: the deploy keeps concurrency 2 while the row says 3.
    original = faults.playbook

    def keeps_two(where, name, extra=None, timeout=900):
        if extra:
            extra = json.loads(json.dumps(extra))
            for group in extra['celery_worker_groups']:
                if group['name'] == 'cpu':
                    group['concurrency'] = 2
        return original(where, name, extra, timeout)
    faults.playbook = keeps_two
    out['setting dropped'] = faults.fault_config_change(platform, tag, args)
    # The restart skipped: no playbook runs.
    faults.playbook = lambda where, name, extra=None, timeout=900: Done()
    out['rolling restart skipped'] = faults.fault_rolling_restart(platform, tag + 'a')
    # Every worker restarted at once (one systemctl job each, side by side).
    faults.playbook = lambda where, name, extra=None, timeout=900: subprocess.Popen(
        ['docker', 'exec', platform.host, 'systemctl', 'restart'] + platform.workers())
    out['restarted all at once'] = faults.fault_rolling_restart(platform, tag + 'b')
    # The SIGKILL skipped.
    platform.kill = lambda group: ('demo-worker-cpu@1.service', 'x')
    platform.came_back = lambda handle: True
    out['kill skipped'] = faults.fault_kill(platform, tag, 20)
    for case, value in out.items():
        print('%-24s -> row %s | lost %s | duplicated %s | %s'
              % (case, 'PASSES' if faults.row_ok(value) else 'fails', value.get('lost'), value.get('duplicated'),
                 value.get('fault')))
    return 1 if any(faults.row_ok(value) for value in out.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
