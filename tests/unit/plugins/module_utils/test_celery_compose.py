"""Compose services: the systemd command lines, no secret in the model, '$' escaped."""

import copy
import json

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_compose as cc
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_cmd import beat_argv, flower_argv

APP = 'shop.celery:app'
PROJECT = '/opt/celery/shop'
EXEC_SHIM = ['/bin/sh', '/run/celeryops/exec.sh']
SETTINGS = {
    'app_name': 'shop', 'app_module': APP, 'image': 'registry.example.com/shop:1.4.2', 'project_dir': PROJECT,
    'uid': 10001, 'gid': 10002, 'python': '/venv/bin/python', 'state_dir': '/var/lib/celery',
    'restart': 'unless-stopped', 'log_max_size': '10m', 'log_max_file': 5,
    'healthcheck': {'interval': 30, 'timeout': 20, 'retries': 3, 'start_period': 10},
    'broker_enabled': False, 'broker_image': 'redis:7.4-bookworm', 'broker_user': '',
}
# A value that must stay in the group's secrets file, never in the Compose file.
GROUP_SECRET = 'group-token-5f1d0c'
RAW_GROUPS = [
    {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16, 'instances': 3,
     'environment': {'API_TOKEN': GROUP_SECRET}},
    {'name': 'cpu-heavy', 'queues': ['cpu', 'celery'], 'concurrency': 2, 'time_limit': 60,
     'cpu_limit': 1.5, 'memory_limit_mb': 400},
]


def groups(raw=None, extra_args=None):
    """Groups exactly as the role hands them to the filter (normalize_groups)."""
    return cw.normalize_groups(copy.deepcopy(raw or RAW_GROUPS), APP, 'info', default_stop_timeout=300,
                               stop_margin=30, extra_args=extra_args)


def settings(**changes):
    result = copy.deepcopy(SETTINGS)
    result.update(changes)
    return result


def worker_fragment(**changes):
    return cc.fragment(settings(**changes), 'worker', groups=groups())


def beat_fragment(**changes):
    argv = beat_argv(APP, schedule_file='/var/lib/celery/celerybeat-schedule')
    return cc.fragment(settings(**changes), 'beat', argv=argv, stop_timeout=45)


def flower_fragment(**kwargs):
    argv = flower_argv(APP, address='0.0.0.0', port=cc.FLOWER_CONTAINER_PORT)
    return cc.fragment(settings(), 'flower', argv=argv, **kwargs)


def broker_fragment(**changes):
    return cc.fragment(settings(broker_enabled=True, **changes), 'broker')


CELERY_FRAGMENTS = {'worker': worker_fragment, 'beat': beat_fragment, 'flower': flower_fragment}
ALL_FRAGMENTS = dict(CELERY_FRAGMENTS, broker=broker_fragment)


def probe(*args):
    """A health check that reads a file or a URL: no shim, no app, no secret."""
    return ['CMD', '/venv/bin/python', '/run/celeryops/probe.py'] + list(args)


HEARTBEAT = {'PYTHONUNBUFFERED': '1', 'CELERYOPS_HEARTBEAT_FILE': '/tmp/celeryops-heartbeat.json'}


# --- escaping --------------------------------------------------------------


@pytest.mark.parametrize('value, expected', [
    ('$HOME', '$$HOME'),
    ('${HOME:-x}', '$${HOME:-x}'),
    ('a$$b', 'a$$$$b'),
    ('no dollar', 'no dollar'),
    (5, 5),
    (1.5, 1.5),
    (True, True),
    (None, None),
    (['$a', ['$b', 3], {'k': '$c'}], ['$$a', ['$$b', 3], {'k': '$$c'}]),
    ({'outer': {'inner': ['x$y', False]}, 'n': 0}, {'outer': {'inner': ['x$$y', False]}, 'n': 0}),
])
def test_escape(value, expected):
    assert cc.escape(value) == expected


def test_escape_leaves_its_input_alone():
    value = {'a': ['$x']}
    cc.escape(value)
    assert value == {'a': ['$x']}


def test_dollar_in_a_worker_command_is_escaped():
    raw = [{'name': 'io', 'queues': ['io'], 'extra_args': ['--statedb=$HOME/io.db']}]
    body = cc.fragment(settings(), 'worker', groups=groups(raw, extra_args=['--exclude-queues=$Q']))
    command = body['services']['worker-io']['command']
    assert '--statedb=$$HOME/io.db' in command
    assert '--exclude-queues=$$Q' in command
    assert '$HOME' not in json.dumps(body).replace('$$HOME', '')


def test_dollar_in_a_settings_value_is_escaped():
    body = worker_fragment(image='registry.example.com/shop:$TAG', python='/opt/$venv/bin/python')
    service = body['services']['worker-io']
    assert service['image'] == 'registry.example.com/shop:$$TAG'
    assert service['healthcheck']['test'][1] == '/opt/$$venv/bin/python'


# --- worker groups ---------------------------------------------------------


def test_one_worker_service_per_group():
    body = worker_fragment()
    assert sorted(body['services']) == ['worker-cpu-heavy', 'worker-io']
    assert 'volumes' not in body


@pytest.mark.parametrize('name, index', [('io', 0), ('cpu-heavy', 1)])
def test_worker_command_is_the_systemd_argv_plus_the_node_name(name, index):
    group = groups(extra_args=['--without-mingle'])[index]
    service = cc.fragment(settings(), 'worker', groups=[group])['services']['worker-%s' % name]
    # Every worker starts through the launcher (settings, heartbeat file).
    launcher = [settings()['python'], cc.LAUNCHER_PATH]
    assert service['command'] == launcher + group['argv'] + ['--hostname=%s@%%h' % name]
    assert service['command'][:5] == launcher + ['-A', APP, 'worker']
    assert '--without-mingle' in service['command']
    # The health check reads the heartbeat the launcher writes: consuming.
    assert service['healthcheck']['test'] == probe('ready')
    assert service['environment'] == HEARTBEAT


def test_worker_replicas_grace_period_and_limits():
    services = worker_fragment()['services']
    io, cpu = services['worker-io'], services['worker-cpu-heavy']
    assert io['deploy'] == {'replicas': 3}  # no limits unless set
    assert cpu['deploy'] == {'replicas': 1, 'resources': {'limits': {'cpus': '1.5', 'memory': '400M'}}}
    assert io['stop_grace_period'] == '300s'  # celery_worker_stop_timeout_s
    assert cpu['stop_grace_period'] == '90s'  # time_limit 60 + margin 30
    assert io['stop_signal'] == cpu['stop_signal'] == 'SIGTERM'


@pytest.mark.parametrize('limits, expected', [
    ({'cpu_limit': 0.25}, {'cpus': '0.25'}),
    ({'cpu_limit': 2}, {'cpus': '2'}),
    ({'cpu_limit': 1.1}, {'cpus': '1.1'}),
    ({'memory_limit_mb': 610}, {'memory': '610M'}),
    ({'cpu_limit': 3, 'memory_limit_mb': 1024}, {'cpus': '3', 'memory': '1024M'}),
])
def test_worker_limits(limits, expected):
    raw = [dict({'name': 'io', 'queues': ['io']}, **limits)]
    service = cc.fragment(settings(), 'worker', groups=groups(raw))['services']['worker-io']
    assert service['deploy']['resources'] == {'limits': expected}


def test_planned_limits_reach_the_services(role_path):
    """The role's path: resolve (plan request) -> plan -> resolve -> fragment; the
    plan's per-instance cap and MemoryMax become the replica's Compose limits."""
    by_name, resolved = role_path
    services = cc.fragment(settings(), 'worker', groups=resolved)['services']
    for name in ('io', 'reports'):
        limits = services['worker-%s' % name]['deploy']['resources']['limits']
        assert float(limits['cpus']) == pytest.approx(by_name[name]['cpu_limit']) and float(limits['cpus']) > 0
        assert services['worker-%s' % name]['deploy']['replicas'] == by_name[name]['instances']
    assert services['worker-io']['deploy']['resources']['limits']['memory'] == '%dM' % by_name['io']['memory_limit_mb']
    assert services['worker-reports']['deploy']['resources']['limits']['memory'] == '2000M'  # the group's own


def test_worker_container_sandbox():
    service = worker_fragment()['services']['worker-io']
    assert service['image'] == SETTINGS['image']
    assert service['init'] is True
    assert service['read_only'] is True
    assert service['user'] == '10001:10002'
    assert service['cap_drop'] == ['ALL']
    assert service['security_opt'] == ['no-new-privileges:true']
    assert service['entrypoint'] == EXEC_SHIM
    assert service['restart'] == 'unless-stopped'
    assert service['healthcheck'] == {'test': probe('ready'), 'interval': '30s', 'timeout': '20s',
                                      'retries': 3, 'start_period': '10s'}
    assert service['labels']['io.celeryops.app'] == 'shop'
    assert service['labels']['io.celeryops.component'] == 'worker'
    assert service['labels']['io.celeryops.group'] == 'io'


def test_settings_as_strings_from_templating():
    """Numbers may arrive as strings from Ansible templating."""
    service = worker_fragment(uid='10001', gid='10001', log_max_file='3',
                              healthcheck={'interval': '15', 'timeout': '5', 'retries': '2',
                                           'start_period': '0'})['services']['worker-io']
    assert service['user'] == '10001:10001'
    assert service['logging']['options'] == {'max-size': '10m', 'max-file': '3'}
    assert service['healthcheck']['interval'] == '15s' and service['healthcheck']['retries'] == 2


def test_worker_secrets_and_configs():
    body = worker_fragment()
    service = body['services']['worker-cpu-heavy']
    assert service['secrets'] == ['celery_env', {'source': 'worker_cpu_heavy_env', 'target': 'celery_role_env'}]
    assert body['secrets'] == {
        'celery_env': {'file': PROJECT + '/secrets/celery.env'},
        'worker_io_env': {'file': PROJECT + '/secrets/worker-io.env'},
        'worker_cpu_heavy_env': {'file': PROJECT + '/secrets/worker-cpu-heavy.env'},
    }
    assert service['configs'] == [{'source': 'celeryops_exec', 'target': '/run/celeryops/exec.sh'},
                                  {'source': 'celeryops_probe', 'target': '/run/celeryops/probe.py'},
                                  {'source': 'celeryops_celery', 'target': '/run/celeryops/launcher.py'}]
    assert body['configs'] == {'celeryops_exec': {'file': PROJECT + '/celeryops-exec.sh'},
                               'celeryops_probe': {'file': PROJECT + '/celeryops-probe.py'},
                               'celeryops_celery': {'file': PROJECT + '/celeryops-celery.py'}}


# --- what every Celery service shares -------------------------------------


@pytest.mark.parametrize('component', sorted(CELERY_FRAGMENTS))
@pytest.mark.parametrize('enabled', [True, False])
def test_depends_on_the_broker_only_when_it_is_enabled(component, enabled):
    body = cc.fragment(settings(broker_enabled=enabled), component, groups=groups(), argv=['-A', APP, component])
    for service in body['services'].values():
        if enabled:
            assert service['depends_on'] == {'broker': {'condition': 'service_healthy'}}
        else:
            assert 'depends_on' not in service


@pytest.mark.parametrize('component', sorted(CELERY_FRAGMENTS))
def test_secrets_revision_label_only_when_given(component):
    label = 'io.celeryops.secrets-revision'
    without = cc.fragment(settings(), component, groups=groups(), argv=['-A', APP, component])
    with_revision = cc.fragment(settings(revision='1700000000.5-1700000001.25'), component, groups=groups(),
                                argv=['-A', APP, component])
    for name, service in without['services'].items():
        assert label not in service['labels']
        assert with_revision['services'][name]['labels'][label] == '1700000000.5-1700000001.25'


@pytest.mark.parametrize('component', sorted(ALL_FRAGMENTS))
def test_every_reference_is_declared_in_the_same_file(component):
    """Each role's file stands alone: what a service names, the file declares."""
    body = ALL_FRAGMENTS[component]()
    for service in body['services'].values():
        for secret in service.get('secrets', []):
            assert (secret['source'] if isinstance(secret, dict) else secret) in body['secrets']
        for config in service.get('configs', []):
            assert config['source'] in body['configs']
        for volume in service.get('volumes', []):
            assert volume.split(':', 1)[0] in body['volumes']


def test_shared_declarations_agree_between_files():
    """Compose merges the roles' files: the shared top-level entries must not conflict."""
    bodies = [fragment() for fragment in CELERY_FRAGMENTS.values()]
    for key, name in (('secrets', 'celery_env'), ('configs', 'celeryops_exec'), ('configs', 'celeryops_probe')):
        assert len(set(json.dumps(body[key][name], sort_keys=True) for body in bodies)) == 1
    service_names = [name for body in bodies + [broker_fragment()] for name in body['services']]
    assert len(service_names) == len(set(service_names))


@pytest.mark.parametrize('component', sorted(ALL_FRAGMENTS))
def test_no_secret_in_any_fragment(component):
    """The functions take no secret, and they do not copy one in from the worker
    groups' environment (which holds secrets and goes to the group's secrets
    file) or from settings they do not know."""
    body = ALL_FRAGMENTS[component](broker_password='settings-password-9a8b') if component == 'broker' else (
        cc.fragment(settings(broker_url='redis://:settings-password-9a8b@x/0'), component, groups=groups(),
                    argv=['-A', APP, component]))
    text = json.dumps(body)
    for needle in (GROUP_SECRET, 'API_TOKEN', 'settings-password-9a8b', 'CELERY_BROKER_URL',
                   'CELERY_RESULT_BACKEND', 'FLOWER_BASIC_AUTH', 'requirepass', 'redis://'):
        assert needle not in text
    for service in body['services'].values():
        assert 'env_file' not in service
        assert service.get('environment', {'PYTHONUNBUFFERED': '1'}) in ({'PYTHONUNBUFFERED': '1'}, HEARTBEAT)


# --- beat ------------------------------------------------------------------


def test_beat():
    body = beat_fragment()
    assert sorted(body['services']) == ['beat']
    service = body['services']['beat']
    # Through the launcher, which marks each scheduler pass in the heartbeat file.
    assert service['command'] == ['/venv/bin/python', cc.LAUNCHER_PATH, '-A', APP, 'beat', '--loglevel=INFO',
                                  '--schedule=/var/lib/celery/celerybeat-schedule']
    assert {'source': 'celeryops_celery', 'target': cc.LAUNCHER_PATH} in service['configs']
    assert service['environment'] == HEARTBEAT
    assert service['deploy'] == {'replicas': 1}
    assert service['stop_grace_period'] == '45s'
    assert service['volumes'] == ['beat-data:/var/lib/celery']
    assert body['volumes'] == {'beat-data': {}}
    assert service['secrets'] == ['celery_env', {'source': 'beat_env', 'target': 'celery_role_env'}]
    assert body['secrets']['beat_env'] == {'file': PROJECT + '/secrets/beat.env'}
    assert service['healthcheck']['test'] == probe('ready')
    assert service['entrypoint'] == EXEC_SHIM and service['user'] == '10001:10002'
    assert service['labels']['io.celeryops.component'] == 'beat'


def test_beat_defaults():
    service = cc.fragment(settings(state_dir='/srv/state'), 'beat', argv=['-A', APP, 'beat'])['services']['beat']
    assert service['stop_grace_period'] == '60s'
    assert service['volumes'] == ['beat-data:/srv/state']


# --- flower ----------------------------------------------------------------


@pytest.mark.parametrize('address, port, mapping', [
    ('127.0.0.1', 5555, '127.0.0.1:5555:5555'),
    ('0.0.0.0', 8080, '0.0.0.0:8080:5555'),
    ('::1', 15555, '[::1]:15555:5555'),
    ('::', 80, '[::]:80:5555'),
])
def test_flower_port_mapping(address, port, mapping):
    body = flower_fragment(address=address, port=port)
    assert body['services']['flower']['ports'] == [mapping]


def test_flower_starts_through_the_launcher():
    # The launcher guards /metrics with Flower's login (Flower alone serves
    # it to anyone) and takes its own --celeryops-open-metrics off the line.
    service = flower_fragment()['services']['flower']
    assert service['command'][:5] == [settings()['python'], cc.LAUNCHER_PATH, '-A', APP, 'flower']
    assert {'source': 'celeryops_celery', 'target': cc.LAUNCHER_PATH} in service['configs']


def test_flower_listens_where_the_port_mapping_points():
    service = flower_fragment()['services']['flower']
    assert service['ports'] == ['127.0.0.1:5555:5555']  # defaults
    assert '--address=0.0.0.0' in service['command']
    assert '--port=%d' % int(service['ports'][0].rsplit(':', 1)[1]) in service['command']


@pytest.mark.parametrize('url_prefix, url', [
    ('', 'http://127.0.0.1:5555/healthcheck'),
    ('/', 'http://127.0.0.1:5555/healthcheck'),
    ('flower', 'http://127.0.0.1:5555/flower/healthcheck'),
    ('/flower/', 'http://127.0.0.1:5555/flower/healthcheck'),
    ('ops/flower', 'http://127.0.0.1:5555/ops/flower/healthcheck'),
])
def test_flower_healthcheck_honours_the_url_prefix(url_prefix, url):
    service = flower_fragment(url_prefix=url_prefix)['services']['flower']
    assert service['healthcheck']['test'] == probe('http', url)


@pytest.mark.parametrize('persistent', [True, False])
def test_flower_volume_only_when_persistent(persistent):
    body = flower_fragment(persistent=persistent)
    service = body['services']['flower']
    if persistent:
        assert service['volumes'] == ['flower-data:/var/lib/celery']
        assert body['volumes'] == {'flower-data': {}}
    else:
        assert 'volumes' not in service and 'volumes' not in body


def test_flower_secrets():
    body = flower_fragment()
    service = body['services']['flower']
    assert service['secrets'] == ['celery_env', {'source': 'flower_env', 'target': 'celery_role_env'}]
    assert body['secrets']['flower_env'] == {'file': PROJECT + '/secrets/flower.env'}
    assert service['deploy'] == {'replicas': 1}
    assert service['entrypoint'] == EXEC_SHIM


# --- broker ----------------------------------------------------------------


def test_broker():
    body = broker_fragment()
    assert sorted(body['services']) == ['broker']
    service = body['services']['broker']
    assert service['image'] == 'redis:7.4-bookworm'
    assert service['command'] == ['redis-server', '/run/secrets/broker_conf']
    assert service['secrets'] == ['broker_conf']
    assert body['secrets'] == {'broker_conf': {'file': PROJECT + '/secrets/broker.conf'}}
    assert 'configs' not in body  # no Celery shim in the Redis image
    assert service['volumes'] == ['broker-data:/data']
    assert body['volumes'] == {'broker-data': {}}
    assert 'user' not in service
    assert 'environment' not in service and 'entrypoint' not in service
    assert service['read_only'] is True and service['cap_drop'] == ['ALL']
    assert 'depends_on' not in service


@pytest.mark.parametrize('user', ['999:999', '10001:10001'])
def test_broker_user_when_set(user):
    assert broker_fragment(broker_user=user)['services']['broker']['user'] == user


def test_broker_healthcheck_needs_no_password():
    test = broker_fragment()['services']['broker']['healthcheck']['test']
    assert test[0] == 'CMD-SHELL'
    assert ' -a ' not in test[1] and 'REDISCLI_AUTH' not in test[1]


def rabbitmq_fragment(**changes):
    return broker_fragment(**dict(dict(broker_kind='rabbitmq', broker_image='rabbitmq:4.1', broker_user='999:999'),
                                  **changes))


def test_rabbitmq_broker():
    body = rabbitmq_fragment()
    service = body['services']['broker']
    assert service['image'] == 'rabbitmq:4.1'
    assert service['entrypoint'] == ['rabbitmq-server'] and 'command' not in service
    # Its node name, rabbit@broker, and so its data, survive a new container.
    assert service['hostname'] == 'broker'
    assert service['environment'] == {'RABBITMQ_CONFIG_FILE': '/run/secrets/rabbitmq.conf',
                                      'HOME': '/var/lib/rabbitmq'}
    assert service['secrets'] == [{'source': 'broker_conf', 'target': 'rabbitmq.conf'},
                                  {'source': 'broker_definitions', 'target': 'rabbitmq-definitions.json'}]
    assert body['secrets'] == {'broker_conf': {'file': PROJECT + '/secrets/broker.conf'},
                               'broker_definitions': {'file': PROJECT + '/secrets/broker-definitions.json'}}
    assert service['volumes'] == ['broker-data:/var/lib/rabbitmq']
    assert service['tmpfs'] == ['/tmp', '/var/log/rabbitmq:uid=999,gid=999,mode=0700']
    assert service['user'] == '999:999'
    assert service['read_only'] is True and service['cap_drop'] == ['ALL']
    assert service['healthcheck']['test'][:3] == ['CMD', 'bash', '-c']


def test_rabbitmq_serves_its_metrics_only_when_asked():
    service = rabbitmq_fragment(broker_metrics={'address': '127.0.0.1', 'port': 19200})['services']['broker']
    assert service['environment']['RABBITMQ_ENABLED_PLUGINS'] == 'rabbitmq_prometheus'
    assert service['ports'] == ['127.0.0.1:19200:15692']
    # RabbitMQ writes that list into its enabled-plugins file before it boots
    # (else failed_to_update_enabled_plugins_file): the root is read-only, so
    # the file must be on one of the container's tmpfs mounts.
    plugins_dir = service['environment']['RABBITMQ_ENABLED_PLUGINS_FILE'].rsplit('/', 1)[0]
    assert service['read_only'] is True
    assert plugins_dir in [mount.split(':', 1)[0] for mount in service['tmpfs']]
    plain = rabbitmq_fragment()['services']['broker']
    assert 'RABBITMQ_ENABLED_PLUGINS' not in plain['environment'] and 'ports' not in plain
    # Redis has no such plugin: its exporter is a service of the workers' file.
    assert 'ports' not in broker_fragment(broker_metrics={'address': '127.0.0.1', 'port': 19200})['services']['broker']


@pytest.mark.parametrize('user, tmpfs', [('', '/var/log/rabbitmq'), ('rabbitmq', '/var/log/rabbitmq'),
                                         ('1234', '/var/log/rabbitmq:uid=1234,gid=1234,mode=0700')])
def test_rabbitmq_log_tmpfs_belongs_to_the_broker_user(user, tmpfs):
    assert rabbitmq_fragment(broker_user=user)['services']['broker']['tmpfs'][1] == tmpfs


@pytest.mark.parametrize('kind', ['redis', 'rabbitmq'])
def test_broker_secrets_revision_label(kind):
    service = broker_fragment(broker_kind=kind, broker_revision='17.5-18.25')['services']['broker']
    assert service['labels']['io.celeryops.secrets-revision'] == '17.5-18.25'
    assert 'io.celeryops.secrets-revision' not in broker_fragment(broker_kind=kind)['services']['broker']['labels']


def _amqp_server(reply):
    """A one-shot server on a free loopback port: reads the client's 8 bytes, answers ``reply``."""
    import socket
    import threading
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    seen = []

    def serve():
        conn, _addr = server.accept()
        with conn:
            data = b''
            while len(data) < 8:
                chunk = conn.recv(8 - len(data))
                if not chunk:
                    break
                data += chunk
            seen.append(data)
            conn.sendall(reply)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], seen, thread


@pytest.mark.parametrize('reply, healthy', [(b'\x01\x00\x00', True), (b'AMQP\x00\x00\x09\x01', False)])
def test_rabbitmq_healthcheck_speaks_amqp(reply, healthy):
    """The check sends AMQP 0-9-1's header and passes only on a frame back (a Connection.Start)."""
    import subprocess
    port, seen, thread = _amqp_server(reply)
    script = rabbitmq_fragment()['services']['broker']['healthcheck']['test'][3]
    script = script.replace('$$', '$').replace('/5672', '/%d' % port)  # Compose's unescaping, our port
    proc = subprocess.run(['bash', '-c', script], timeout=10, check=False)
    thread.join(5)
    assert seen == [b'AMQP\x00\x00\x09\x01']
    assert (proc.returncode == 0) == healthy


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize('component', ['kubernetes', 'workers', ''])
def test_unknown_component(component):
    with pytest.raises(ValueError, match='unknown Compose component'):
        cc.fragment(settings(), component)


def test_each_worker_group_has_its_own_secrets_revision():
    """A change to one group's secrets file recreates that group only."""
    services = worker_fragment(revision={'io': '1-2', 'cpu-heavy': '1-3'})['services']
    assert services['worker-io']['labels']['io.celeryops.secrets-revision'] == '1-2'
    assert services['worker-cpu-heavy']['labels']['io.celeryops.secrets-revision'] == '1-3'


def test_a_prefork_group_without_limits_gets_one_from_max_memory_per_child():
    raw = [{'name': 'io', 'queues': ['io'], 'concurrency': 2, 'max_memory_per_child': 100000}]
    service = cc.fragment(settings(), 'worker', groups=groups(raw))['services']['worker-io']
    assert service['deploy']['resources'] == {'limits': {'memory': '467M'}}


# --- broker exporter --------------------------------------------------------


def exporter_fragment(url='redis://:exporter-password-77c1@broker:6379/0', **changes):
    return cc.fragment(settings(exporter_image='celeryops/debian12-redis-exporter:latest', **changes),
                       'worker', groups=groups(), exporter={'url': url, 'queues': ['io', 'cpu', 'io'],
                                                            'address': '127.0.0.1', 'port': 9187})


def test_exporter_service_reads_its_password_from_a_secret_file_only():
    body = exporter_fragment()
    service = body['services']['broker-exporter']
    assert 'exporter-password-77c1' not in json.dumps(body)
    assert service['entrypoint'] == ['/usr/bin/prometheus-redis-exporter']
    assert service['command'] == ['-redis.addr=redis://broker:6379', '-web.listen-address=:9121',
                                  '-redis.password-file=/run/secrets/broker_exporter_passwords',
                                  '-check-single-keys=db0=cpu,db0=io']
    assert service['secrets'] == ['broker_exporter_passwords']
    assert body['secrets']['broker_exporter_passwords'] == {'file': PROJECT + '/secrets/broker-exporter.json'}
    # Only with the workers that ask for it.
    assert 'broker-exporter' not in worker_fragment()['services']
    assert 'broker_exporter_passwords' not in worker_fragment()['secrets']
    assert 'environment' not in service
    assert service['ports'] == ['127.0.0.1:9187:9121']
    # Sandboxed like the Celery containers, as the app's container user.
    assert service['user'] == '10001:10002' and service['read_only'] is True and service['cap_drop'] == ['ALL']
    assert service['security_opt'] == ['no-new-privileges:true']
    assert service['labels'] == {'io.celeryops.app': 'shop', 'io.celeryops.component': 'broker-exporter'}


def test_exporter_service_follows_the_broker_and_a_rewritten_password_file():
    service = exporter_fragment(broker_enabled=True, exporter_revision='1765.5',
                                exporter_command='/redis_exporter')['services']['broker-exporter']
    assert service['depends_on'] == {'broker': {'condition': 'service_healthy'}}
    assert service['labels']['io.celeryops.secrets-revision'] == '1765.5'
    assert service['entrypoint'] == ['/redis_exporter']


def test_exporter_of_a_broker_without_a_password_gets_no_password_file_argument():
    service = exporter_fragment(url='redis://broker:6379/2')['services']['broker-exporter']
    assert service['command'] == ['-redis.addr=redis://broker:6379', '-web.listen-address=:9121',
                                  '-check-single-keys=db2=cpu,db2=io']
