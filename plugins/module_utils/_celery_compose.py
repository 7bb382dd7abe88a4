# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Compose services for the Celery worker groups, beat, Flower and the broker.

Pure functions (no Ansible imports, unit-tested). The command lines come
from the same builders as the systemd units (``_celery_worker.worker_argv``,
``_celery_cmd``); only the process supervision differs.

Secrets never enter the Compose model: ``docker inspect`` shows a
container's environment, labels and command, so the broker URL and Flower
credentials live in files under the project's ``secrets/`` directory,
mounted as Compose secrets, and a small shell entry point
(``celeryops-exec.sh``) exports them and ``exec``s the command. With
``init: true`` Docker's init is PID 1 and forwards SIGTERM to Celery, which
then does its warm shutdown within ``stop_grace_period``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import launcher_command

# Where the helper files land inside every container (Compose configs).
EXEC_PATH = '/run/celeryops/exec.sh'
PROBE_PATH = '/run/celeryops/probe.py'
# The launcher (celeryops-celery.py): every worker, beat and Flower runs
# through it (the inventory's Celery settings, the heartbeat file the health
# check reads, Flower's /metrics behind its login).
LAUNCHER_PATH = '/run/celeryops/launcher.py'
HEARTBEAT_ENV = 'CELERYOPS_HEARTBEAT_FILE'
HEARTBEAT_FILE = '/tmp/celeryops-heartbeat.json'
# Where the launcher records the workload (celery_worker_measure_workload);
# celery_workload_report reads it with docker exec.
WORKLOAD_ENV = 'CELERYOPS_WORKLOAD_DIR'
WORKLOAD_DIR = '/tmp/celeryops-workload'
# Compose secret names; the exec shim reads /run/secrets/<name>.
COMMON_SECRET = 'celery_env'
ROLE_SECRET_TARGET = 'celery_role_env'
# Flower listens on this port inside its container; the host side is
# celery_flower_address:celery_flower_port.
FLOWER_CONTAINER_PORT = 5555


def escape(value):
    """Escape Compose interpolation: a literal '$' is written '$$'."""
    if isinstance(value, str):
        return value.replace('$', '$$')
    if isinstance(value, list):
        return [escape(item) for item in value]
    if isinstance(value, dict):
        return dict((key, escape(item)) for key, item in value.items())
    return value


def _duration(seconds):
    return '%ds' % int(seconds)


def _healthcheck(settings, test):
    health = settings.get('healthcheck') or {}
    return {
        'test': ['CMD', '/bin/sh', EXEC_PATH] + test,
        'interval': _duration(health.get('interval', 30)),
        'timeout': _duration(health.get('timeout', 15)),
        'retries': int(health.get('retries', 3)),
        'start_period': _duration(health.get('start_period', 30)),
    }


def _probe(settings, *args):
    app = [] if args[0] in ('ready', 'http') else ['--app', settings['app_module']]
    return [settings.get('python', 'python3'), PROBE_PATH] + app + list(args)


def _file_healthcheck(settings):
    """The health check that reads the launcher's heartbeat file: no shim
    (it needs no secret), no Celery import, no broker round trip."""
    check = _healthcheck(settings, [])
    check['test'] = ['CMD'] + _probe(settings, 'ready')
    return check


def _logging(settings):
    """Docker's json-file log, rotated: every service of the project."""
    return {'driver': 'json-file', 'options': {'max-size': str(settings.get('log_max_size', '10m')),
                                               'max-file': str(settings.get('log_max_file', 5))}}


def base_service(settings, component, role_secret=None):
    """What every Celery container shares: image, user, sandbox, secrets, logs."""
    secrets = [COMMON_SECRET]
    if role_secret:
        secrets.append({'source': role_secret, 'target': ROLE_SECRET_TARGET})
    labels = {
        'io.celeryops.app': settings['app_name'],
        'io.celeryops.component': component,
    }
    if settings.get('revision') and not isinstance(settings['revision'], dict):
        # Changes when a secrets file is rewritten, so Compose recreates the
        # containers (it does not look into secret files); the value is a
        # file time, not derived from the secret.
        labels['io.celeryops.secrets-revision'] = str(settings['revision'])
    service = {
        'image': settings['image'],
        'init': True,
        'user': '%d:%d' % (int(settings.get('uid', 10001)), int(settings.get('gid', 10001))),
        'read_only': True,
        'tmpfs': ['/tmp'],
        'cap_drop': ['ALL'],
        'security_opt': ['no-new-privileges:true'],
        'restart': settings.get('restart', 'unless-stopped'),
        'entrypoint': ['/bin/sh', EXEC_PATH],
        'environment': {'PYTHONUNBUFFERED': '1'},
        'secrets': secrets,
        'configs': [
            {'source': 'celeryops_exec', 'target': EXEC_PATH},
            {'source': 'celeryops_probe', 'target': PROBE_PATH},
        ],
        'labels': labels,
        'logging': _logging(settings),
    }
    if settings.get('broker_enabled'):
        service['depends_on'] = {'broker': {'condition': 'service_healthy'}}
    return service


def _limits(group):
    limits = {}
    if group.get('cpu_limit'):
        limits['cpus'] = '%g' % float(group['cpu_limit'])
    if group.get('memory_limit_mb'):
        limits['memory'] = '%dM' % int(group['memory_limit_mb'])
    return limits


def worker_services(groups, settings):
    """One service per worker group: ``worker-<group>``, ``instances`` replicas.

    ``groups`` are normalized groups (with ``argv`` and ``stop_timeout``).
    The node name is ``<group>@<container hostname>``: replicas differ by
    hostname, and the health check pings exactly its own node.
    """
    services = {}
    for group in groups:
        service = base_service(settings, 'worker', 'worker_%s_env' % group['name'].replace('-', '_'))
        service['labels']['io.celeryops.group'] = group['name']
        if isinstance(settings.get('revision'), dict):
            # Per group (the shared and the group's own secrets file): a
            # change to one group's settings rolls that group only.
            service['labels']['io.celeryops.secrets-revision'] = str(settings['revision'].get(group['name'], ''))
        service['configs'].append({'source': 'celeryops_celery', 'target': LAUNCHER_PATH})
        service['command'] = (launcher_command(settings.get('python', 'python3'), LAUNCHER_PATH)
                              + list(group['argv']) + ['--hostname=%s@%%h' % group['name']])
        service['stop_signal'] = 'SIGTERM'
        service['stop_grace_period'] = _duration(group['stop_timeout'])
        deploy = {'replicas': int(group.get('instances') or 1)}
        limits = _limits(group)
        if limits:
            deploy['resources'] = {'limits': limits}
        service['deploy'] = deploy
        service['environment'][HEARTBEAT_ENV] = HEARTBEAT_FILE
        if settings.get('measure_workload'):
            service['environment'][WORKLOAD_ENV] = WORKLOAD_DIR
        service['healthcheck'] = _file_healthcheck(settings)
        services['worker-%s' % group['name']] = service
    return services


def worker_secrets(groups, project_dir):
    """The per-group secret files (environment of each group)."""
    return dict(('worker_%s_env' % group['name'].replace('-', '_'),
                 {'file': '%s/secrets/worker-%s.env' % (project_dir, group['name'])}) for group in groups)


def beat_service(argv, settings, stop_timeout=60):
    """The beat service: one replica, its schedule on the ``beat-data`` volume."""
    service = base_service(settings, 'beat', 'beat_env')
    service['configs'].append({'source': 'celeryops_celery', 'target': LAUNCHER_PATH})
    service['command'] = launcher_command(settings.get('python', 'python3'), LAUNCHER_PATH) + list(argv)
    service['environment'][HEARTBEAT_ENV] = HEARTBEAT_FILE
    service['stop_signal'] = 'SIGTERM'
    service['stop_grace_period'] = _duration(stop_timeout)
    service['deploy'] = {'replicas': 1}
    service['volumes'] = ['beat-data:%s' % settings.get('state_dir', '/var/lib/celery')]
    # Healthy while its heartbeat says it schedules on time.
    service['healthcheck'] = _file_healthcheck(settings)
    return service


def flower_service(argv, settings, address='127.0.0.1', port=5555, url_prefix='', persistent=False):
    """The Flower service, published on address:port, authenticated by env.
    Through the launcher, which puts /metrics behind the same login (Flower
    serves it to anyone) unless argv asks otherwise (celery_flower_metrics_open)."""
    service = base_service(settings, 'flower', 'flower_env')
    service['configs'].append({'source': 'celeryops_celery', 'target': LAUNCHER_PATH})
    service['command'] = launcher_command(settings.get('python', 'python3'), LAUNCHER_PATH) + list(argv)
    service['deploy'] = {'replicas': 1}
    service['ports'] = ['%s:%d:%d' % (_host(address), int(port), FLOWER_CONTAINER_PORT)]
    if persistent:
        service['volumes'] = ['flower-data:%s' % settings.get('state_dir', '/var/lib/celery')]
    path = '/%s/healthcheck' % url_prefix.strip('/') if url_prefix.strip('/') else '/healthcheck'
    url = 'http://127.0.0.1:%d%s' % (FLOWER_CONTAINER_PORT, path)
    check = _healthcheck(settings, [])
    check['test'] = ['CMD'] + _probe(settings, 'http', url)  # no secret needed: no shim
    service['healthcheck'] = check
    return service


def _host(address):
    return '[%s]' % address if ':' in address else address


# Where the all-in-one RabbitMQ finds its files (Compose secrets, 0400, its user's).
RABBITMQ_CONFIG = '/run/secrets/rabbitmq.conf'
RABBITMQ_DEFINITIONS = '/run/secrets/rabbitmq-definitions.json'
# A frame back for AMQP's protocol header means the broker serves clients,
# not only that its port is open; bash's /dev/tcp needs no client installed.
RABBITMQ_HEALTH = (
    'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\\0\\0\\11\\1" >&3'
    ' && [ "$(head -c 1 <&3 | od -An -tx1 | tr -d " ")" = 01 ]')


# RabbitMQ's own Prometheus endpoint (its rabbitmq_prometheus plugin, which
# Debian's and the official images ship): /metrics/per-object carries the
# per-queue series (rabbitmq_queue_messages_ready{vhost, queue}) the rules read.
RABBITMQ_METRICS_PORT = 15692
RABBITMQ_METRICS_PATH = '/metrics/per-object'
# RabbitMQ writes the plugins it enables from RABBITMQ_ENABLED_PLUGINS into
# its enabled-plugins file before it boots (failed_to_update_enabled_plugins_file
# otherwise): /etc/rabbitmq is read-only here, so the file lives on the
# container's own /tmp, made anew each start (turning the exporter off leaves
# nothing enabled behind in the data volume).
RABBITMQ_ENABLED_PLUGINS_FILE = '/tmp/rabbitmq-enabled-plugins'


def broker_service(settings):
    """The optional all-in-one broker (Redis or RabbitMQ): password and settings from secret files.
    A RabbitMQ with ``broker_metrics`` ({address, port}: celery_broker_exporter_enabled) enables
    its prometheus plugin and publishes its port there."""
    rabbitmq = settings.get('broker_kind') == 'rabbitmq'
    service = {
        'image': settings['broker_image'],
        'read_only': True,
        'tmpfs': ['/tmp'],
        'cap_drop': ['ALL'],
        'security_opt': ['no-new-privileges:true'],
        'restart': settings.get('restart', 'unless-stopped'),
        'labels': {'io.celeryops.app': settings['app_name'], 'io.celeryops.component': 'broker'},
        'logging': _logging(settings),
    }
    if settings.get('broker_revision'):
        # Compose does not look into secret files: a rewritten one (a new
        # password) recreates the broker through this label (a file time).
        service['labels']['io.celeryops.secrets-revision'] = str(settings['broker_revision'])
    if rabbitmq:
        service.update({
            # The node's name (rabbit@broker) keeps its data across containers.
            'hostname': 'broker',
            'entrypoint': ['rabbitmq-server'],
            'environment': {'RABBITMQ_CONFIG_FILE': RABBITMQ_CONFIG, 'HOME': '/var/lib/rabbitmq'},
            'secrets': [{'source': 'broker_conf', 'target': RABBITMQ_CONFIG.rsplit('/', 1)[1]},
                        {'source': 'broker_definitions', 'target': RABBITMQ_DEFINITIONS.rsplit('/', 1)[1]}],
            'volumes': ['broker-data:/var/lib/rabbitmq'],
            # RabbitMQ writes its upgrade log and crash dumps there whatever
            # the config says; its own log goes to the console.
            'tmpfs': ['/tmp', '/var/log/rabbitmq' + _tmpfs_owner(settings.get('broker_user'))],
            # Time to close queues and flush to disk before Docker kills it.
            'stop_grace_period': '60s',
            'healthcheck': {'test': ['CMD', 'bash', '-c', RABBITMQ_HEALTH],
                            'interval': '5s', 'timeout': '5s', 'retries': 24, 'start_period': '10s'},
        })
        metrics = settings.get('broker_metrics')
        if metrics:
            service['environment']['RABBITMQ_ENABLED_PLUGINS'] = 'rabbitmq_prometheus'
            service['environment']['RABBITMQ_ENABLED_PLUGINS_FILE'] = RABBITMQ_ENABLED_PLUGINS_FILE
            service['ports'] = ['%s:%d:%d' % (_host(str(metrics.get('address') or '127.0.0.1')),
                                              int(metrics['port']), RABBITMQ_METRICS_PORT)]
    else:
        service.update({
            'command': ['redis-server', '/run/secrets/broker_conf'],
            'secrets': ['broker_conf'],
            'volumes': ['broker-data:/data'],
            # NOAUTH means the server answers: the check needs no password.
            'healthcheck': {
                'test': ['CMD-SHELL', 'redis-cli -p 6379 ping | grep -Eq "PONG|NOAUTH"'],
                'interval': '5s', 'timeout': '5s', 'retries': 10, 'start_period': '5s',
            },
        })
    if settings.get('broker_user'):
        service['user'] = settings['broker_user']
    return service


# The broker exporter (celery_broker_exporter_enabled): its listen port in
# its container, and where its password file (a Compose secret) lands.
EXPORTER_CONTAINER_PORT = 9121
EXPORTER_SECRET = 'broker_exporter_passwords'
EXPORTER_PASSWORDS = '/run/secrets/%s' % EXPORTER_SECRET


def exporter_service(settings, exporter):
    """The broker exporter (prometheus-redis-exporter) of ``exporter``:
    ``url`` (the broker's), ``queues`` (to measure), published on
    ``address``:``port``. The password goes into the secret file
    EXPORTER_PASSWORDS (``_celery_broker.redis_exporter_passwords``), never
    into its command or environment. Sandboxed like the Celery containers;
    the roles check from the host that it reads the broker (it may have no
    shell for a health check: upstream's image is a single binary)."""
    from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
        redis_exporter_argv, redis_exporter_passwords)
    url = exporter['url']
    argv = redis_exporter_argv(url, exporter['queues'], ':%d' % EXPORTER_CONTAINER_PORT,
                               EXPORTER_PASSWORDS if redis_exporter_passwords(url) else '')
    address, port = exporter.get('address', '127.0.0.1'), exporter.get('port', EXPORTER_CONTAINER_PORT)
    service = {
        'image': settings['exporter_image'],
        'user': '%d:%d' % (int(settings.get('uid', 10001)), int(settings.get('gid', 10001))),
        'read_only': True,
        'cap_drop': ['ALL'],
        'security_opt': ['no-new-privileges:true'],
        'restart': settings.get('restart', 'unless-stopped'),
        'entrypoint': [settings.get('exporter_command') or '/usr/bin/prometheus-redis-exporter'],
        'command': list(argv),
        'secrets': [EXPORTER_SECRET],
        'ports': ['%s:%d:%d' % (_host(address), int(port), EXPORTER_CONTAINER_PORT)],
        'labels': {'io.celeryops.app': settings['app_name'], 'io.celeryops.component': 'broker-exporter'},
        'logging': _logging(settings),
    }
    if settings.get('exporter_revision'):
        # A rewritten password file recreates it (Compose does not look into secrets).
        service['labels']['io.celeryops.secrets-revision'] = str(settings['exporter_revision'])
    if settings.get('broker_enabled'):
        service['depends_on'] = {'broker': {'condition': 'service_healthy'}}
    return service


def _tmpfs_owner(user):
    ids = str(user or '').split(':')
    if not ids[0].isdigit():
        return ''
    return ':uid=%s,gid=%s,mode=0700' % (ids[0], ids[1] if len(ids) > 1 and ids[1].isdigit() else ids[0])


def broker_secrets(settings):
    """The broker's secret files: Redis's settings, or RabbitMQ's settings and definitions."""
    secrets = {'broker_conf': {'file': '%s/secrets/broker.conf' % settings['project_dir']}}
    if settings.get('broker_kind') == 'rabbitmq':
        secrets['broker_definitions'] = {'file': '%s/secrets/broker-definitions.json' % settings['project_dir']}
    return secrets


def project(services, secrets=None, configs=None, volumes=None):
    """A Compose file body (one fragment of the project), escaped."""
    body = {'services': services}
    if secrets:
        body['secrets'] = secrets
    if configs:
        body['configs'] = configs
    if volumes:
        body['volumes'] = dict((name, {}) for name in volumes)
    return escape(body)


def shared_files(project_dir):
    """Top-level secrets and configs every Celery service refers to."""
    return (
        {COMMON_SECRET: {'file': '%s/secrets/celery.env' % project_dir}},
        {'celeryops_exec': {'file': '%s/celeryops-exec.sh' % project_dir},
         'celeryops_probe': {'file': '%s/celeryops-probe.py' % project_dir},
         'celeryops_celery': {'file': '%s/celeryops-celery.py' % project_dir}},
    )


def fragment(settings, component, **kwargs):
    """The Compose file of one role: ``worker``, ``beat``, ``flower`` or ``broker``.

    Each role writes its own file into the project directory; the roles run
    ``docker compose`` with all of them, so one project holds the whole app.
    """
    project_dir = settings['project_dir']
    secrets, configs = shared_files(project_dir)
    volumes = []
    if component == 'worker':
        groups = kwargs['groups']
        services = worker_services(groups, settings)
        secrets.update(worker_secrets(groups, project_dir))
        exporter = kwargs.get('exporter')
        if exporter:
            # The broker exporter comes and goes with the workers' file:
            # turned off, `compose up --remove-orphans` removes it.
            services['broker-exporter'] = exporter_service(settings, exporter)
            secrets[EXPORTER_SECRET] = {'file': '%s/secrets/broker-exporter.json' % project_dir}
    elif component == 'beat':
        services = {'beat': beat_service(kwargs['argv'], settings, kwargs.get('stop_timeout', 60))}
        secrets['beat_env'] = {'file': '%s/secrets/beat.env' % project_dir}
        volumes.append('beat-data')
    elif component == 'flower':
        persistent = bool(kwargs.get('persistent'))
        services = {'flower': flower_service(kwargs['argv'], settings, kwargs.get('address', '127.0.0.1'),
                                             kwargs.get('port', 5555), kwargs.get('url_prefix', ''), persistent)}
        secrets['flower_env'] = {'file': '%s/secrets/flower.env' % project_dir}
        if persistent:
            volumes.append('flower-data')
    elif component == 'broker':
        return project({'broker': broker_service(settings)}, broker_secrets(settings), None, ['broker-data'])

    else:
        raise ValueError('unknown Compose component %r' % (component,))
    return project(services, secrets, configs, volumes)
