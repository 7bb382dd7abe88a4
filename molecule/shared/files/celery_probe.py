"""Talk to a deployed Celery app as a client, from inside a test host.

Reads the broker and backend URLs from the environment of a running worker
process (systemd: --pid), or from its own environment (Compose: run through
the containers' entry point, which exports the secrets), so no secret passes
on a command line; then:
  ping   every expected node answers a ping
  tick-times  when beat's tick ran (epochs), from --since on, and the gaps
  tasks  a task sent to each queue returns the right result and ran on a
         node of the group that consumes that queue
  ticks  the beat counter (celeryops_demo:ticks) before and after a wait
  send   send io_sleep(--seconds) to --queue, --count times; prints the
         last task id
  purge  remove every message waiting in --queue; prints how many
  result wait for --task-id; prints its state, result and node
  direct add(2, 3) to --node's own queue (worker_direct); prints how long
         until it ran (the node must consume right away)
Prints one JSON document; exits 1 with a message when a check fails.
"""

import argparse
import json
import os
import sys


def environ_of(pid):
    with open('/proc/%d/environ' % pid, 'rb') as handle:
        pairs = handle.read().split(b'\0')
    env = {}
    for pair in pairs:
        if b'=' in pair:
            key, value = pair.split(b'=', 1)
            env[key.decode()] = value.decode()
    return env


def fail(message, **details):
    print(json.dumps(dict(ok=False, error=message, **details), sort_keys=True))
    sys.exit(1)


def check_conf(app, nodes, expectations):
    """Ask each node for its configuration (inspect conf) and compare settings."""
    confs = {}
    for _attempt in range(3):
        confs.update(app.control.inspect(destination=nodes, timeout=3.0).conf() or {})
        if set(nodes) <= set(confs):
            break
    missing = sorted(set(nodes) - set(confs))
    if missing:
        fail('nodes did not report their configuration: %s' % ', '.join(missing))
    seen = {}
    for expectation in expectations:
        target, _sep, value = expectation.partition('=')
        group, _sep, name = target.rpartition(':')
        want = json.loads(value)
        for node in nodes:
            if group and not node.startswith(group):
                continue
            # inspect conf lists the settings that differ from Celery's defaults.
            got = confs[node].get(name)
            seen.setdefault(node, {})[name] = got
            if got != want:
                fail('node %s runs with %s=%r, expected %r' % (node, name, got, want), conf=seen)
    return seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--pid', type=int, help='PID of a running worker (default: use this environment)')
    parser.add_argument('--nodes', default='', help='comma-separated node names that must answer')
    parser.add_argument('--check', choices=['ping', 'tasks', 'all', 'ticks', 'tick-times', 'send', 'purge', 'result', 'direct'],
                        default='all')
    parser.add_argument('--since', type=float, default=0.0, help='tick-times: from this epoch on')
    parser.add_argument('--queue', default='io')
    parser.add_argument('--node', default='')
    parser.add_argument('--seconds', type=float, default=8.0)
    parser.add_argument('--count', type=int, default=1, help='send: how many tasks')
    parser.add_argument('--expires', type=float, default=None,
                        help='send: seconds after which a worker drops the tasks unrun')
    parser.add_argument('--task-id', default='')
    parser.add_argument('--wait', type=float, default=10.0, help='seconds between two tick counts')
    parser.add_argument('--timeout', type=float, default=30.0)
    parser.add_argument('--expect-conf', action='append', default=[], metavar='[GROUP:]NAME=JSON',
                        help='a Celery setting every answering node (of GROUP) must run with')
    args = parser.parse_args()

    env = environ_of(args.pid) if args.pid else dict(os.environ)
    for key in ('CELERY_BROKER_URL', 'CELERY_RESULT_BACKEND'):
        if key in env:
            os.environ[key] = env[key]
    from celeryops_demo.celery import app  # noqa: E402 (needs the env first)
    from celeryops_demo import tasks
    # The worker's inventory settings: a producer must declare the queues as
    # the workers do (quorum queues refuse a classic redeclaration).
    app.conf.update(json.loads(env.get('CELERYOPS_CELERY_SETTINGS') or '{}'))

    expected = sorted(node for node in args.nodes.split(',') if node)
    report = {'ok': True, 'expected_nodes': expected}

    if args.check == 'send':
        for _sent in range(args.count):
            result = tasks.io_sleep.apply_async((args.seconds,), queue=args.queue, expires=args.expires)
        report.update(task_id=result.id, sent=args.count)
        print(json.dumps(report, sort_keys=True))
        return

    if args.check == 'purge':
        with app.connection_for_write() as conn:
            report['purged'] = conn.default_channel.queue_purge(args.queue) or 0
        print(json.dumps(report, sort_keys=True))
        return

    if args.check == 'direct':
        import time
        from celery.utils.nodenames import worker_direct
        sent = time.time()
        result = tasks.add.apply_async((2, 3), queue=worker_direct(args.node))
        value = result.get(timeout=args.timeout)
        report.update(result=value, node=result.worker or '', seconds=round(time.time() - sent, 3))
        report['ok'] = value == 5 and result.worker == args.node
        print(json.dumps(report, sort_keys=True))
        return

    if args.check == 'result':
        result = app.AsyncResult(args.task_id)
        try:
            value = result.get(timeout=args.timeout, propagate=False)
        except Exception as exc:  # a timeout is a result too: the task was lost or is late
            value = repr(exc)
        report.update(state=result.state, result=value, node=result.worker or '')
        report['ok'] = result.state == 'SUCCESS'
        print(json.dumps(report, sort_keys=True))
        return

    if args.check == 'ticks':
        import time
        import redis
        client = redis.Redis.from_url(tasks.redis_url())
        before = int(client.get(tasks.TICK_KEY) or 0)
        time.sleep(args.wait)
        after = int(client.get(tasks.TICK_KEY) or 0)
        report.update(ticks_before=before, ticks_after=after, wait_s=args.wait)
        print(json.dumps(report, sort_keys=True))
        return

    if args.check == 'tick-times':
        import redis
        client = redis.Redis.from_url(tasks.redis_url())
        times = sorted(float(value) for value in client.lrange(tasks.TICK_TIMES_KEY, 0, -1))
        report['ticks'] = [round(value, 3) for value in times if value >= args.since]
        report['gaps'] = [round(later - earlier, 3) for earlier, later in zip(report['ticks'], report['ticks'][1:])]
        print(json.dumps(report, sort_keys=True))
        return

    if args.check in ('ping', 'all'):
        replies = {}
        for _attempt in range(3):  # a node that just started may miss one broadcast
            for reply in app.control.ping(timeout=2.0):
                replies.update(reply)
            if set(expected) <= set(replies):
                break
        report['ping'] = sorted(replies)
        missing = sorted(set(expected) - set(replies))
        if missing:
            fail('nodes did not answer ping: %s' % ', '.join(missing), ping=sorted(replies))
        if args.expect_conf:
            report['conf'] = check_conf(app, expected or sorted(replies), args.expect_conf)

    if args.check in ('tasks', 'all'):
        cases = [
            ('io_sleep on io', tasks.io_sleep.apply_async((0.05,)), 0.05, 'io'),
            ('cpu_loop on cpu', tasks.cpu_loop.apply_async((1000,)), sum(i * i for i in range(1000)), 'cpu'),
            ('add on io', tasks.add.apply_async((2, 3), queue='io'), 5, 'io'),
            ('add on cpu', tasks.add.apply_async((4, 5), queue='cpu'), 9, 'cpu'),
            ('add on celery', tasks.add.apply_async((6, 7)), 13, 'cpu'),
        ]
        results = []
        for label, result, want, group in cases:
            got = result.get(timeout=args.timeout)
            node = result.worker or ''
            results.append({'task': label, 'result': got, 'node': node})
            if got != want:
                fail('%s returned %r, expected %r' % (label, got, want), tasks=results)
            # systemd: <group><n>@host; Compose: <group>@<container>.
            instance = node[len(group):].split('@')[0]
            if not (node.startswith(group) and '@' in node and (instance == '' or instance.isdigit())):
                fail('%s ran on node %r, not on a node of group %r' % (label, node, group), tasks=results)
        report['tasks'] = results
        # Both cpu instances take work: 16 tasks of ~50 ms with prefetch 1.
        batch = [tasks.cpu_loop.apply_async((400000,)) for _task in range(16)]
        nodes = set()
        for result in batch:
            result.get(timeout=args.timeout)
            nodes.add(result.worker)
        report['cpu_batch_nodes'] = sorted(nodes)
    print(json.dumps(report, sort_keys=True))


if __name__ == '__main__':
    main()
