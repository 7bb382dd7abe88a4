"""Client side of the fault tests; runs where the app's environment is (a
container through the entry point, or the host's venv with the env file).
Reads no secret from its command line. Prints one JSON document.

  send    --queue Q --count N --seconds S --prefix P   send record(P-i, S), i from
          [--start I] [--countdown C]                  I (default 0) to I+N-1, due
                                                       C s from now (default 0)
  collect --prefix P --count N --timeout T --settle S  runs per token; after every
                                                       token ran, S s more (a
                                                       late duplicate counts)
  attempts --prefix P                                  each attempt of P's tokens:
                                                       node, pid, start, end
  stats   --nodes K                                    inspect stats: each node's
                                                       pool concurrency
  ping    --nodes K --timeout T                        every node answers
  ticks   --since EPOCH                                beat's tick times
"""

import argparse
import json
import os
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('mode', choices=('send', 'collect', 'attempts', 'stats', 'ping', 'ticks'))
    parser.add_argument('--settle', type=float, default=0.0)
    parser.add_argument('--start', type=int, default=0)
    parser.add_argument('--countdown', type=float, default=0.0)
    parser.add_argument('--queue', default='celery')
    parser.add_argument('--count', type=int, default=10)
    parser.add_argument('--seconds', type=float, default=1.0)
    parser.add_argument('--prefix', default='t')
    parser.add_argument('--timeout', type=float, default=60.0)
    parser.add_argument('--nodes', type=int, default=1)
    parser.add_argument('--since', type=float, default=0.0)
    args = parser.parse_args()

    from celeryops_demo import tasks
    from celeryops_demo.celery import app
    # A producer declares the queues as the deployed processes do (the
    # shared env's settings: quorum queues refuse a classic redeclaration).
    app.conf.update(json.loads(os.environ.get('CELERYOPS_CELERY_SETTINGS') or '{}'))
    client = tasks._redis()  # pylint: disable=protected-access
    tokens = ['%s-%d' % (args.prefix, index) for index in range(args.start, args.start + args.count)]

    if args.mode == 'send':
        for token in tokens:
            tasks.record.apply_async((token, args.seconds), queue=args.queue, countdown=args.countdown or None)
        print(json.dumps({'sent': len(tokens), 'queue': args.queue}))
    elif args.mode == 'collect':
        started = time.time()
        deadline = started + args.timeout
        while True:
            runs = client.hmget(tasks.RUNS_KEY, tokens)
            counts = [int(value or 0) for value in runs]
            if all(counts) or time.time() > deadline:
                break
            time.sleep(0.5)
        waited = time.time() - started
        # A redelivery (after the visibility timeout) runs a token again
        # later than its first run: keep looking before counting duplicates.
        time.sleep(args.settle)
        counts = [int(value or 0) for value in client.hmget(tasks.RUNS_KEY, tokens)]
        print(json.dumps({'sent': len(tokens), 'completed': sum(1 for c in counts if c),
                          'lost': sum(1 for c in counts if not c),
                          'duplicated': sum(1 for c in counts if c > 1),
                          'waited_s': round(waited, 1),
                          'settle_s': args.settle}))
    elif args.mode == 'attempts':
        attempts, by_id = {}, {}
        for line in client.lrange(tasks.ATTEMPTS_KEY, 0, -1):
            what, token, node, pid, at, attempt = line.decode().split('|')
            if not token.startswith(args.prefix + '-'):
                continue
            if what == 'start':
                by_id[attempt] = {'node': node, 'pid': int(pid), 'start': float(at), 'end': None}
                attempts.setdefault(token, []).append(by_id[attempt])
            elif attempt in by_id:
                by_id[attempt]['end'] = float(at)
        print(json.dumps({'attempts': attempts}))
    elif args.mode == 'stats':
        stats = {}
        for _attempt in range(5):
            stats.update(app.control.inspect(timeout=3.0).stats() or {})
            if len(stats) >= args.nodes:
                break
        print(json.dumps({'concurrency': dict((node, info.get('pool', {}).get('max-concurrency'))
                                              for node, info in stats.items())}))
    elif args.mode == 'ping':
        start = time.time()
        deadline = start + args.timeout
        answered = {}
        while time.time() < deadline:
            try:
                for reply in app.control.ping(timeout=2.0):
                    answered.update(reply)
            except Exception:  # the broker may still be coming back
                time.sleep(1)
            if len(answered) >= args.nodes:
                break
        print(json.dumps({'nodes': sorted(answered), 'answered': len(answered),
                          'seconds': round(time.time() - start, 1)}))
    else:
        times = [float(value) for value in client.lrange(tasks.TICK_TIMES_KEY, 0, -1)]
        print(json.dumps({'ticks': [t for t in times if t >= args.since]}))


if __name__ == '__main__':
    main()
