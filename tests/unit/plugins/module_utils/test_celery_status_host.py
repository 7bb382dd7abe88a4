"""Reading a host for celeryops.deploy.status, on fakes of systemctl, docker and
Celery's broadcast: what the roles deployed is found, each instance gets its
node, queues and env files from its own unit, one broadcast serves them all,
and a stopped or frozen one is reported with its log, secrets masked."""

import json
import os

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_status_host as sh

NOW = 1000.0
SECRET = 's3cretpw'


def exec_start(python, group, n, queues):
    return ('{ path=%s ; argv[]=%s /opt/celery/shop/celeryops-celery.py -A shop.celery:app worker --queues=%s '
            '--hostname=%s%d@web1 ; ignore_errors=no ; start_time=[n/a] }' % (python, python, queues, group, n))


def show(unit, state='active', sub='running', restarts=0, start='@900', exec_line='', user='shop'):
    return ('Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\nNRestarts=%d\nActiveEnterTimestamp=%s\n'
            'ExecStart=%s\nUser=%s\nEnvironmentFiles=/etc/celery/shop/celery.env (ignore_errors=no)\n'
            'EnvironmentFiles=/etc/celery/shop/worker-io@1.env (ignore_errors=yes)\n\n'
            % (unit, state, sub, restarts, start, exec_line, user))


class Fake(object):
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def run(self, argv, timeout):
        self.calls.append(list(argv))
        for prefix, answer in self.answers:
            if argv[:len(prefix)] == prefix:
                return answer(argv) if callable(answer) else answer
        raise AssertionError('unexpected command %s' % argv)


def params(tmp_path, **extra):
    out = dict(app='shop', app_module='shop.celery:app', base_dir=str(tmp_path / 'base'), run_dir=str(tmp_path / 'run'),
               flower_url='', flower_credentials='', queue_max=1000, heartbeat_max_age=10.0, timeout=3.0,
               log_lines=2, secrets=[SECRET], project_name='shop', project_dir='/opt/celery/shop',
               project_files=['compose.yml'], expect=[])
    out.update(extra)
    return out


def systemd_host(tmp_path):
    instances = tmp_path / 'base' / 'instances'
    instances.mkdir(parents=True)
    (tmp_path / 'run').mkdir()
    release = tmp_path / 'base' / 'releases' / 'abc123' / 'venv'
    release.mkdir(parents=True)
    for name in ('worker-io@1', 'worker-io@2', 'beat'):
        os.symlink(str(release), str(instances / name))
    heartbeat = {'alive': True, 'state': 'consuming', 'time': NOW - 0.3}
    (tmp_path / 'run' / 'worker-io@1.heartbeat').write_text(json.dumps(heartbeat))
    (tmp_path / 'run' / 'worker-io@2.heartbeat').write_text(json.dumps(dict(heartbeat, time=NOW - 25)))
    (tmp_path / 'run' / 'beat.heartbeat').write_text(json.dumps(dict(heartbeat, state='running', tick=NOW - 1)))
    python = '/opt/celery/shop/instances/worker-io@1/bin/python'
    shown = (show('shop-beat.service') + show('shop-worker-io@1.service', exec_line=exec_start(python, 'io', 1, 'io,bulk'))
             + show('shop-worker-io@2.service', restarts=3, exec_line=exec_start(python, 'io', 2, 'io,bulk')))
    reply = {'ping': ['io1@web1'], 'active': {'io1@web1': 1}, 'reserved': {'io1@web1': 0},
             'pool': {'io1@web1': {'implementation': 'celery.concurrency.prefork:TaskPool', 'concurrency': 4}},
             'queues': {'io': {'messages': 2}, 'bulk': {'messages': 0}}}
    return Fake([
        (['systemctl', 'show'], (0, shown, '')),
        (['systemd-run'], (0, json.dumps(reply), '')),
        (['journalctl'], (0, 'a\nb\nConnected to redis://:%s@broker:6379/0\n' % SECRET, '')),
    ])


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def test_systemd_host(tmp_path):
    fake = systemd_host(tmp_path)
    report = sh.SystemdReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    rows = dict((row['name'], row) for row in report['rows'])
    assert sorted(rows) == ['beat', 'worker-io@1', 'worker-io@2']
    assert rows['worker-io@1']['healthy'] and rows['worker-io@1']['release'] == 'abc123'
    assert (rows['worker-io@1']['pool'], rows['worker-io@1']['concurrency'], rows['worker-io@1']['uptime']) == (
        'prefork', 4, 100.0)
    frozen = rows['worker-io@2']
    assert not frozen['healthy'] and frozen['restarts'] == 3
    assert frozen['reasons'][0].startswith('heartbeat 25.0s old')
    assert frozen['log'] == ['b', 'Connected to redis://:********@broker:6379/0']
    assert rows['beat']['healthy'] and rows['beat']['holds_lock']
    assert not report['healthy']
    queues = [(q['name'], q['messages'], q['groups']) for q in report['queues']]
    assert queues == [('bulk', 0, ['io']), ('io', 2, ['io'])]
    # one broadcast for the host, with a worker's interpreter, user and env files, every node and queue
    runs = [call for call in fake.calls if call[0] == 'systemd-run']
    assert len(runs) == 1
    run = runs[0]
    assert '--property=User=shop' in run
    assert '--property=EnvironmentFile=/etc/celery/shop/celery.env' in run
    assert '--property=EnvironmentFile=-/etc/celery/shop/worker-io@1.env' in run
    assert run[run.index('-c') - 1] == '/opt/celery/shop/instances/worker-io@1/bin/python'
    assert '--property=RuntimeMaxSec=32' in run  # 4 x 3 s + 15, + 5: the unit ends even if its client is killed
    args = json.loads(run[-1])
    assert args['nodes'] == ['io1@web1', 'io2@web1'] and args['queues'] == ['bulk', 'io']
    # the inventory's settings are laid over the app's by the launcher's own rule
    assert args['launcher'] == '/opt/celery/shop/celeryops-celery.py' and args['budget'] == 27
    # only the unhealthy instance's journal is read
    assert [call[2] for call in fake.calls if call[0] == 'journalctl'] == ['shop-worker-io@2.service']


def test_systemd_host_with_a_stopped_unit_and_no_broker(tmp_path):
    fake = systemd_host(tmp_path)
    shown = (show('shop-beat.service', state='inactive', sub='dead', start='')
             + show('shop-worker-io@1.service', exec_line=exec_start('/p', 'io', 1, 'io'))
             + show('shop-worker-io@2.service', exec_line=exec_start('/p', 'io', 2, 'io')))
    fake.answers[0] = (['systemctl', 'show'], (0, shown, ''))
    reply = {'error': 'OperationalError: redis://:%s@b refused' % SECRET, 'queues': {'io': {'error': 'boom %s' % SECRET}}}
    fake.answers[1] = (['systemd-run'], (0, json.dumps(reply), ''))
    report = sh.SystemdReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    rows = dict((row['name'], row) for row in report['rows'])
    assert rows['beat']['reasons'] == ['beat is inactive/dead'] and rows['beat']['uptime'] is None
    assert 'did not answer the ping (OperationalError: redis://:********@b refused)' in rows['worker-io@1']['reasons'][0]
    assert report['queues'][0]['reasons'] == ['length unknown: boom ********']
    assert SECRET not in json.dumps(report)


def test_systemd_host_where_nothing_is_deployed(tmp_path):
    fake = Fake([])
    report = sh.SystemdReader(params(tmp_path, expect=['worker', 'beat']), fake.run, None, read_file,
                              lambda: NOW).read()
    assert [(row['kind'], row['reasons']) for row in report['rows']] == [
        ('worker', ['no worker is deployed here, but the host is in the celery_workers group']),
        ('beat', ['no beat is deployed here, but the host is in the celery_beat group'])]
    assert not report['healthy'] and fake.calls == []


def test_systemd_host_where_systemctl_fails(tmp_path):
    fake = systemd_host(tmp_path)
    fake.answers[0] = (['systemctl', 'show'], (1, '', 'Failed to connect to bus'))
    report = sh.SystemdReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    assert [row['reasons'] for row in report['rows']] == [['systemctl show failed (rc 1): Failed to connect to bus']]
    assert not report['healthy']


def test_the_broadcast_runs_with_a_loaded_running_worker(tmp_path):
    fake = systemd_host(tmp_path)
    shown = (show('shop-beat.service') + show('shop-worker-io@1.service', state='inactive', sub='dead')
             + show('shop-worker-io@2.service', exec_line=exec_start('/v2', 'io', 2, 'io')))
    fake.answers[0] = (['systemctl', 'show'], (0, shown, ''))
    sh.SystemdReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    run = [call for call in fake.calls if call[0] == 'systemd-run'][0]
    assert run[run.index('-c') - 1] == '/v2'


def container(name, service, component, status='running', restarts=0, group=None, cmd=(), hostname='c0ffee'):
    labels = {'com.docker.compose.service': service, 'io.celeryops.component': component}
    if group:
        labels['io.celeryops.group'] = group
    return {'Id': name * 4, 'Name': '/shop-%s' % name, 'RestartCount': restarts,
            'State': {'Status': status, 'StartedAt': '1970-01-01T00:15:00.123Z', 'Health': {'Status': 'healthy'}},
            'Config': {'Labels': labels, 'Cmd': list(cmd), 'Hostname': hostname, 'Image': 'shop:1.2'}}


def test_compose_host(tmp_path):
    containers = [
        container('w1', 'worker-io', 'worker', group='io', cmd=['--queues=io'], hostname='aaa'),
        container('w2', 'worker-io', 'worker', status='paused', group='io', cmd=['--queues=io'], hostname='bbb'),
        container('b1', 'beat', 'beat', status='exited'),
        container('br', 'broker', 'broker'),
    ]
    config = {'services': {'worker-io': {'deploy': {'replicas': 3}, 'labels': {'io.celeryops.component': 'worker'}},
                           'beat': {}, 'broker': {}}}
    heartbeat = json.dumps({'alive': True, 'state': 'consuming', 'time': NOW - 1})
    reply = {'ping': ['io@aaa'], 'queues': {'io': {'messages': 7}}}
    fake = Fake([
        (['docker', 'ps'], (0, 'w1w1w1w1\nw2w2w2w2\nb1b1b1b1\nbrbrbrbr\n', '')),
        (['docker', 'inspect'], (0, json.dumps(containers), '')),
        (['docker', 'exec', 'w1w1w1w1', 'cat'], (0, heartbeat, '')),
        (['docker', 'exec', 'w1w1w1w1', '/bin/sh'], (0, json.dumps(reply), '')),
        (['docker', 'compose'], (0, json.dumps(config), '')),
        (['docker', 'logs'], (0, 'line\n', 'err %s\n' % SECRET)),
    ])
    report = sh.ComposeReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    rows = dict((row['name'], row) for row in report['rows'])
    assert rows['shop-w1']['healthy'] and rows['shop-w1']['node'] == 'io@aaa' and rows['shop-w1']['uptime'] == 100.0
    assert rows['shop-w2']['reasons'] == ['worker is paused'] and rows['shop-w2']['node'] == 'io@bbb'
    assert rows['shop-b1']['reasons'] == ['beat is exited']
    assert rows['shop-br']['healthy'] and rows['shop-w1']['release'] == 'shop:1.2'
    assert rows['worker-io (replica 3 of 3)']['reasons'] == [
        'worker is missing: the project asks for it, no container exists']
    assert rows['shop-w2']['log'] == ['line', 'err ********']
    assert report['queues'][0]['messages'] == 7
    # no exec into the paused or the stopped container; the broadcast through the running worker's entry point
    execs = [call for call in fake.calls if call[:2] == ['docker', 'exec']]
    assert [call[2] for call in execs] == ['w1w1w1w1', 'w1w1w1w1']
    assert execs[1][3:6] == ['/bin/sh', '/run/celeryops/exec.sh', 'python3']
    assert json.loads(execs[1][-1])['nodes'] == ['io@aaa', 'io@bbb']
    # the project's files by their full path (docker compose reads --file from its working directory)
    config = [call for call in fake.calls if call[:2] == ['docker', 'compose']][0]
    assert config[config.index('--file') + 1] == '/opt/celery/shop/compose.yml'


def test_compose_host_where_docker_fails(tmp_path):
    fake = Fake([(['docker', 'ps'], (1, '', 'Cannot connect to the Docker daemon'))])
    report = sh.ComposeReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    assert [row['reasons'] for row in report['rows']] == [['docker failed (rc 1): Cannot connect to the Docker daemon']]


def test_compose_project_that_does_not_load(tmp_path):
    fake = Fake([
        (['docker', 'ps'], (0, '', '')),
        (['docker', 'compose'], (1, '', 'open /opt/celery/shop/compose.yml: no such file or directory')),
    ])
    report = sh.ComposeReader(params(tmp_path), fake.run, None, read_file, lambda: NOW).read()
    assert [(row['kind'], row['name'], row['reasons']) for row in report['rows']] == [
        ('project', 'shop', ['the project files do not load: open /opt/celery/shop/compose.yml: no such file or '
                             'directory'])]
    assert not report['healthy']


def test_flower_login(tmp_path):
    seen = []

    def http(url, credentials):
        seen.append((url, credentials))
        if url.endswith('/healthcheck'):
            return {'status': 200}
        return {'status': 200 if credentials == 'admin:pw' else 401}

    reader = sh.SystemdReader(params(tmp_path, flower_url='http://127.0.0.1:5555/flower/healthcheck',
                                     flower_credentials='admin:pw'), None, http, read_file, lambda: NOW)
    row = reader.flower({'name': 'flower', 'state': 'active/running', 'running': True})
    assert row['healthy']
    assert seen == [('http://127.0.0.1:5555/flower/healthcheck', None), ('http://127.0.0.1:5555/flower/', 'admin:pw'),
                    ('http://127.0.0.1:5555/flower/', None)]


def test_argv_helpers():
    assert sh.argv_option(['celery', '--queues=a,b', '-n', 'x'], '--queues') == 'a,b'
    assert sh.argv_option(['celery', '--queues', 'a'], '--queues') == 'a'
    assert sh.argv_option(['celery'], '--queues') is None
    assert sh.exec_argv(exec_start('/p', 'io', 1, 'io'))[-2:] == ['--queues=io', '--hostname=io1@web1']
    assert sh.exec_argv('') == []
    assert sh.iso_time('1970-01-01T00:15:00.5Z') == 900.0 and sh.iso_time('0001-01-01T00:00:00Z') is None
