"""Break each fault on purpose: the harness must then fail its row.

Run against the systemd demo deployed as `make faults` deploys it
(PLATFORM=systemd DEMO_VISIBILITY_TIMEOUT=20 scripts/demo.sh). Each case
replaces one step of a fault with one that does not do what the row says:
beat stopped for good instead of restarted, beat not restarted at all, the
broker outage skipped, the changed setting dropped, the rolling restart
skipped, every worker restarted at once instead of one at a time, the
SIGKILL skipped, and a duplicate that runs after every token had run once.
Prints one line per case; exits 1 when a row still passes or fails for
another reason than the one its case names (EXPECT).
"""

import argparse
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


def beat_never_back(platform, tag, args):
    """Beat stopped for good instead of restarted."""
    platform.beat_restart = lambda: faults.run(['docker', 'exec', platform.host, 'systemctl', 'stop', 'demo-beat'])
    try:
        return faults.fault_beat(platform, args.tick)
    finally:
        faults.run(['docker', 'exec', platform.host, 'systemctl', 'start', 'demo-beat'])


def restart_skipped(platform, tag, args):
    """Beat never restarted: its ticks go on, as a restarted beat's would."""
    platform.beat_restart = lambda: None
    return faults.fault_beat(platform, args.tick)


def outage_skipped(platform, tag, args):
    """The broker never stopped: every node answers and new tasks complete."""
    platform.broker = lambda action: None
    return faults.fault_broker(platform, tag, len(platform.workers()))


def setting_dropped(platform, tag, args):
    """The deploy keeps concurrency 2 while the row says 3."""
    original = faults.playbook

    def keeps_two(where, name, extra=None, timeout=900):
        if extra:
            extra = json.loads(json.dumps(extra))
            for group in extra['celery_worker_groups']:
                if group['name'] == 'cpu':
                    group['concurrency'] = 2
        return original(where, name, extra, timeout)
    faults.playbook = keeps_two
    return faults.fault_config_change(platform, tag, args)


def rolling_restart_skipped(platform, tag, args):
    """No playbook runs."""
    faults.playbook = lambda where, name, extra=None, timeout=900: Done()
    return faults.fault_rolling_restart(platform, tag + 'a')


def restarted_all_at_once(platform, tag, args):
    """One systemctl job for every worker, side by side."""
    faults.playbook = lambda where, name, extra=None, timeout=900: subprocess.Popen(
        ['docker', 'exec', platform.host, 'systemctl', 'restart'] + platform.workers())
    return faults.fault_rolling_restart(platform, tag + 'b')


def kill_skipped(platform, tag, args):
    """The SIGKILL never sent; the worker 'came back'."""
    platform.kill = lambda group: ('demo-worker-cpu@1.service', 'x')
    platform.came_back = lambda handle: True
    return faults.fault_kill(platform, tag, args.visibility_timeout)


# case -> (what breaks it, the reason faults.why_failed must give): a row
# that fails for another reason (a lost task is not the proof of a skipped
# restart) does not count as caught.
CASES = {
    'late_duplicate': (lambda platform, tag, args: late_duplicate(platform, tag), 'duplicated'),
    'beat_never_back': (beat_never_back, 'lost'),
    'restart_skipped': (restart_skipped, 'unproven'),
    'outage_skipped': (outage_skipped, 'unproven'),
    'setting_dropped': (setting_dropped, 'unproven'),
    'rolling_restart_skipped': (rolling_restart_skipped, 'unproven'),
    'restarted_all_at_once': (restarted_all_at_once, 'unproven'),
    'kill_skipped': (kill_skipped, 'unproven'),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('cases', nargs='*', metavar='CASE',
                        help='the cases to run (default: all): %s' % ', '.join(CASES))
    parser.add_argument('--list', action='store_true', help='print the case names and exit')
    options = parser.parse_args(argv)
    if options.list:
        print('\n'.join(CASES))
        return 0
    chosen = options.cases or list(CASES)
    unknown = [case for case in chosen if case not in CASES]
    if unknown:
        parser.error('no case named %s (cases: %s)' % (', '.join(unknown), ', '.join(CASES)))
    args = types.SimpleNamespace(platform='systemd', image='', visibility_timeout=20, tick=2.0,
                                 changed_groups=json.dumps(CHANGED))
    tag = 'brk%d' % int(time.time())
    playbook = faults.playbook
    failed = 0
    for case in chosen:
        breaks, expected = CASES[case]
        platform = faults.Systemd(args)
        started = time.time()
        try:
            value = breaks(platform, tag, args)
        except Exception as exc:  # a case that cannot run is not caught
            value = {'fault': case, 'error': '%s: %s' % (type(exc).__name__, exc)}
        finally:
            faults.playbook = playbook  # each case breaks its own step only
        reasons = faults.why_failed(value)
        caught = expected in reasons and 'error' not in reasons
        failed += 0 if caught else 1
        print('%-24s -> %s (%.0f s) | lost %s | duplicated %s | %s'
              % (case, ('row fails: %s' % ', '.join(reasons)) if caught
                 else 'NOT CAUGHT: expected %r, got %r' % (expected, reasons),
                 time.time() - started, value.get('lost'), value.get('duplicated'),
                 value.get('error') or value.get('fault')), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
