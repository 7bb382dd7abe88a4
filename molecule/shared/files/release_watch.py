"""Watch a deployment from inside a systemd test host, under load.

Until --stop-file appears (or --max-seconds pass) it sends the demo's
record(token) task every --every seconds, round robin over --queues, and
samples the ActiveState of --units every --sample seconds. Then it waits for
every token to run (at most --timeout s) and a settle window, and prints one
JSON document: sent, completed, lost, duplicated (a token run twice), the
most units that were not active at one sample, and each unit's down spells.

The broker URL comes from the environment of a running worker (--pid), as in
celery_probe.py, or from its own (in a container, through the entry point
that exports the secrets): no secret on a command line. Run it with the
Python of a release that can import the demo app (not through a link the
test moves). With no --units it only sends and counts (Compose: the host
watches the containers).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def environ_of(pid):
    with open('/proc/%d/environ' % pid, 'rb') as handle:
        pairs = handle.read().split(b'\0')
    return dict(pair.decode().split('=', 1) for pair in pairs if b'=' in pair)


def states(units):
    out = subprocess.run(['systemctl', 'show', '--property=ActiveState'] + units, capture_output=True,
                         text=True, timeout=20, check=False).stdout
    values = [line.split('=', 1)[1] for line in out.splitlines() if line.startswith('ActiveState=')]
    return dict(zip(units, values))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--pid', type=int)
    parser.add_argument('--units', default='')
    parser.add_argument('--queues', default='celery')
    parser.add_argument('--stop-file', required=True)
    parser.add_argument('--max-seconds', type=float, default=300)
    parser.add_argument('--every', type=float, default=0.25)
    parser.add_argument('--sample', type=float, default=0.25)
    parser.add_argument('--seconds', type=float, default=0.2, help='how long each task works')
    parser.add_argument('--timeout', type=float, default=120)
    parser.add_argument('--settle', type=float, default=10)
    parser.add_argument('--prefix', default='release')
    args = parser.parse_args()
    if args.pid:
        os.environ.update(dict((key, value) for key, value in environ_of(args.pid).items()
                               if key.startswith('CELERY_')))
    from celeryops_demo import tasks

    units = [unit for unit in args.units.split(',') if unit]
    queues = args.queues.split(',')
    client = tasks._redis()  # pylint: disable=protected-access
    tokens, down, max_down, samples = [], dict((unit, []) for unit in units), 0, 0
    start = time.time()
    next_send = next_sample = start
    while time.time() - start < args.max_seconds and not os.path.exists(args.stop_file):
        now = time.time()
        if now >= next_send:
            token = '%s-%d-%d' % (args.prefix, int(start), len(tokens))
            tasks.record.apply_async((token, args.seconds), queue=queues[len(tokens) % len(queues)])
            tokens.append(token)
            next_send = now + args.every
        if units and now >= next_sample:
            seen = states(units)
            samples += 1
            not_active = [unit for unit in units if seen.get(unit) != 'active']
            max_down = max(max_down, len(not_active))
            for unit in units:
                spells = down[unit]
                if unit in not_active and (not spells or spells[-1][1] is not None):
                    spells.append([round(now - start, 2), None])
                elif unit not in not_active and spells and spells[-1][1] is None:
                    spells[-1][1] = round(now - start, 2)
            next_sample = now + args.sample
        time.sleep(0.02)
    sent_for = round(time.time() - start, 1)
    deadline = time.time() + args.timeout
    counts = []
    while True:
        counts = [int(value or 0) for value in client.hmget(tasks.RUNS_KEY, tokens)] if tokens else []
        if all(counts) or time.time() > deadline:
            break
        time.sleep(0.5)
    time.sleep(args.settle)  # a duplicate can arrive after the first run
    counts = [int(value or 0) for value in client.hmget(tasks.RUNS_KEY, tokens)] if tokens else []
    json.dump({'sent': len(tokens), 'completed': sum(1 for c in counts if c), 'lost': sum(1 for c in counts if not c),
               'duplicated': sum(1 for c in counts if c > 1), 'sent_for_s': sent_for, 'samples': samples,
               'max_down': max_down, 'down': down}, sys.stdout, sort_keys=True)


if __name__ == '__main__':
    main()
