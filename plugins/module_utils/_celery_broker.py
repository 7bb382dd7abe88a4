# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What the roles read from the broker URL, and what its queue type asks of Celery.

One place for the broker's kind (KEDA's triggers, the consumer-timeout rule,
the queue type) and for the Celery settings every process of the app needs
with RabbitMQ quorum queues.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

AMQP_SCHEMES = ('amqp', 'amqps', 'pyamqp')
# The environment variable that carries Celery settings to the launcher.
SETTINGS_ENV = 'CELERYOPS_CELERY_SETTINGS'


def _first(url):
    from urllib.parse import urlsplit
    first = str(url).split(';', 1)[0].strip()
    return first, urlsplit(first)


def broker_endpoint(url):
    """Where KEDA finds the queues: type, host, port, db, tls of the first broker URL (no password)."""
    _url, parts = _first(url)
    scheme = parts.scheme
    if scheme in AMQP_SCHEMES:
        return {'type': 'rabbitmq', 'host': parts.hostname or '', 'port': parts.port or 5672,
                'tls': scheme == 'amqps'}
    if scheme not in ('redis', 'rediss') or not parts.hostname:
        # sentinel://, redis+socket://, sqs://...: no KEDA trigger is made for them.
        return {'type': 'other', 'scheme': scheme}
    db = parts.path.strip('/')
    return {'type': 'redis', 'host': parts.hostname or '', 'port': parts.port or 6379,
            'db': int(db) if db.isdigit() else 0, 'tls': scheme == 'rediss'}


def broker_auth(url):
    """KEDA's secret for that broker: the Redis password, or the AMQP URL (secret)."""
    from urllib.parse import unquote
    first, parts = _first(url)
    if parts.scheme in AMQP_SCHEMES:
        return first.replace('pyamqp://', 'amqp://', 1)
    return unquote(parts.password or '')


def redis_exporter_addr(url):
    """``-redis.addr`` of prometheus-redis-exporter for the first broker URL:
    scheme, host and port, no credentials and no database (the password
    file is keyed by exactly this string)."""
    endpoint = broker_endpoint(url)
    if endpoint['type'] != 'redis':
        raise ValueError('the broker exporter reads Redis (redis:// or rediss://) here, not %s'
                         % (endpoint.get('scheme') or endpoint['type']))
    host = endpoint['host']
    if ':' in host:
        host = '[%s]' % host
    return '%s://%s:%d' % ('rediss' if endpoint['tls'] else 'redis', host, endpoint['port'])


def redis_exporter_argv(url, queues, listen, password_file=''):
    """prometheus-redis-exporter's arguments: the broker, where it listens,
    and the length of each of ``queues`` (lists in the broker URL's
    database: ``redis_key_size{db="db<N>", key="<queue>"}``, 0 while a queue
    is empty). The password is never an argument: ``password_file`` holds it
    (``redis_exporter_passwords``); the user name is no secret."""
    from urllib.parse import unquote
    endpoint = broker_endpoint(url)
    argv = ['-redis.addr=%s' % redis_exporter_addr(url), '-web.listen-address=%s' % listen]
    user = unquote(_first(url)[1].username or '')
    if user:
        argv.append('-redis.user=%s' % user)
    if password_file:
        argv.append('-redis.password-file=%s' % password_file)
    if queues:
        argv.append('-check-single-keys=%s' % ','.join(
            'db%d=%s' % (endpoint['db'], queue) for queue in sorted(set(queues))))
    return argv


def redis_exporter_passwords(url):
    """The exporter's password file (JSON: ``-redis.addr`` -> password); {}
    for a broker without a password."""
    password = broker_auth(url)
    return {redis_exporter_addr(url): password} if password else {}


def broker_settings(queue_type):
    """The Celery settings every process of the app needs for ``queue_type``.

    Quorum queues: the queues Celery declares (the default one, and those a
    worker's ``-Q`` or a route names: Celery 5.6+ creates them as "missing"
    queues) get ``x-queue-type: quorum``, and publishes wait for the broker's
    confirm, which is what makes a quorum queue's replication worth having.
    Their exchanges are topic exchanges: Celery's native delayed delivery
    (ETA and countdown tasks wait in the broker, not in a worker's memory
    under a prefetch that quorum queues cannot raise globally) binds only to
    those, and warns and falls back for direct ones.
    Beat and Flower need them too: whichever process declares a queue first
    fixes its type, and RabbitMQ refuses a later declaration of another type
    (PRECONDITION_FAILED, inequivalent arg 'x-queue-type').
    """
    if queue_type == 'quorum':
        return {'task_default_queue_type': 'quorum', 'task_create_missing_queue_type': 'quorum',
                'task_default_exchange_type': 'topic', 'task_create_missing_queue_exchange_type': 'topic',
                'broker_transport_options': {'confirm_publish': True}}
    return {}


def settings_env(settings):
    """The environment that gives a process ``settings`` (none when empty)."""
    if not settings:
        return {}
    return {SETTINGS_ENV: json.dumps(settings, sort_keys=True, separators=(',', ':'))}


def layer_settings(base, over):
    """``over`` laid on ``base``; broker_transport_options merge key by key."""
    merged = dict(base or {})
    for key, value in (over or {}).items():
        if key == 'broker_transport_options' and isinstance(value, dict) \
                and isinstance(merged.get(key), dict):
            value = dict(merged[key], **value)
        merged[key] = value
    return merged


def quorum_conflicts(settings, where):
    """Settings that contradict quorum queues (``where`` names the variable)."""
    errors = []
    wanted = broker_settings('quorum')
    for key in ('task_default_queue_type', 'task_create_missing_queue_type', 'task_default_exchange_type',
                'task_create_missing_queue_exchange_type'):
        if key in (settings or {}) and settings[key] != wanted[key]:
            errors.append('%s sets %s to %r, but celery_broker_queue_type is quorum; drop the setting'
                          ' (the roles set it)' % (where, key, settings[key]))
    options = (settings or {}).get('broker_transport_options')
    if isinstance(options, dict) and options.get('confirm_publish') is False:
        errors.append('%s sets broker_transport_options.confirm_publish to false, but celery_broker_queue_type'
                      ' is quorum: without publisher confirms a task a quorum queue never stored is lost'
                      ' unseen' % where)
    if (settings or {}).get('worker_detect_quorum_queues') is False:
        errors.append('%s sets worker_detect_quorum_queues to false, but celery_broker_queue_type is quorum:'
                      ' the worker would ask for global QoS, which quorum queues do not support' % where)
    return errors


# The all-in-one Compose broker (celery_compose_broker_enabled): its kind
# follows the scheme of celery_broker_url, which must name it.
COMPOSE_BROKER_HOST = 'broker'
COMPOSE_BROKER_KINDS = ('redis', 'rabbitmq')


def compose_broker(url, password):
    """The all-in-one broker that ``url`` points at: kind, errors and, for RabbitMQ, its definitions.

    ``password`` is celery_compose_broker_password; the URL must carry the
    same one (a mismatch leaves every worker failing to log in). The errors
    name the variables and never show a secret. For RabbitMQ, ``definitions``
    create the URL's user and virtual host (see rabbitmq_definitions).
    """
    from urllib.parse import unquote
    _first_url, parts = _first(url)
    kind = broker_endpoint(url)['type']
    result = {'kind': kind, 'errors': [], 'definitions': {}}
    errors = result['errors']
    if kind not in COMPOSE_BROKER_KINDS:
        errors.append('celery_compose_broker_enabled: the all-in-one broker is Redis (redis://) or RabbitMQ'
                      ' (amqp://, pyamqp://), but celery_broker_url starts with %r' % (parts.scheme + '://'))
        return result
    if parts.scheme in ('rediss', 'amqps'):
        errors.append('celery_compose_broker_enabled: the all-in-one broker speaks no TLS on the project'
                      ' network; celery_broker_url must use %s://' % parts.scheme[:-1])
    if (parts.hostname or '') != COMPOSE_BROKER_HOST:
        errors.append('celery_compose_broker_enabled: celery_broker_url must name the broker service as its'
                      ' host (%s), not %r' % (COMPOSE_BROKER_HOST, parts.hostname or ''))
    if unquote(parts.password or '') != str(password or ''):
        errors.append('celery_compose_broker_enabled: the password in celery_broker_url differs from'
                      ' celery_compose_broker_password (neither is shown); the workers could not log in')
    if kind == 'rabbitmq':
        user = unquote(parts.username or '')
        if not user or user == 'guest':
            errors.append('celery_compose_broker_enabled: celery_broker_url needs a RabbitMQ user of its own'
                          ' (amqp://celery:<celery_compose_broker_password>@broker:5672//), not %r: RabbitMQ'
                          ' lets guest in from loopback only' % user)
        path = parts.path[1:] if parts.path.startswith('/') else parts.path
        result['definitions'] = rabbitmq_definitions(user, unquote(path) or '/', password)
    return result


def rabbitmq_password_hash(user, password):
    """RabbitMQ's SHA-256 password hash, base64(salt + sha256(salt + password)).

    The salt is derived from the user and password, so that a rerun writes the
    same file (no change, no restart) while the file never holds the password.
    """
    import base64
    import hashlib
    seed = ('celeryops-rabbitmq-salt\0%s\0%s' % (user, password)).encode('utf-8')
    salt = hashlib.sha256(seed).digest()[:4]
    digest = hashlib.sha256(salt + str(password).encode('utf-8')).digest()
    return base64.b64encode(salt + digest).decode('ascii')


def rabbitmq_definitions(user, vhost, password):
    """Definitions RabbitMQ imports at boot: ``user`` with all rights on ``vhost``.

    Importing definitions at boot also keeps RabbitMQ from creating its
    default guest user.
    """
    return {
        'users': [{'name': user, 'password_hash': rabbitmq_password_hash(user, password),
                   'hashing_algorithm': 'rabbit_password_hashing_sha256', 'tags': []}],
        'vhosts': [{'name': vhost}],
        'permissions': [{'user': user, 'vhost': vhost, 'configure': '.*', 'write': '.*', 'read': '.*'}],
    }
