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
