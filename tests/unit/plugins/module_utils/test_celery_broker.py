# -*- coding: utf-8 -*-
"""The broker URL's kind and the settings its queue type asks of Celery."""

import json

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_broker as cb


# --- where the broker is, for KEDA --------------------------------------------------


@pytest.mark.parametrize('url, expected', [
    ('redis://:pw@redis.example:6380/2', {'type': 'redis', 'host': 'redis.example', 'port': 6380, 'db': 2,
                                          'tls': False}),
    ('redis://redis.example', {'type': 'redis', 'host': 'redis.example', 'port': 6379, 'db': 0, 'tls': False}),
    ('redis://redis.example/', {'type': 'redis', 'host': 'redis.example', 'port': 6379, 'db': 0, 'tls': False}),
    ('rediss://user:pw@redis.example:6390/15?ssl_cert_reqs=required',
     {'type': 'redis', 'host': 'redis.example', 'port': 6390, 'db': 15, 'tls': True}),
    ('redis://:pw@redis.example/x', {'type': 'redis', 'host': 'redis.example', 'port': 6379, 'db': 0,
                                     'tls': False}),
    ('amqp://shop:pw@rabbit.example:5673/vhost', {'type': 'rabbitmq', 'host': 'rabbit.example', 'port': 5673,
                                                  'tls': False}),
    ('amqps://shop:pw@rabbit.example//', {'type': 'rabbitmq', 'host': 'rabbit.example', 'port': 5672,
                                          'tls': True}),
    ('pyamqp://guest@rabbit.example//', {'type': 'rabbitmq', 'host': 'rabbit.example', 'port': 5672,
                                         'tls': False}),
    ('redis://:pw@first:6379/1;redis://:pw@second:6379/1',
     {'type': 'redis', 'host': 'first', 'port': 6379, 'db': 1, 'tls': False}),
    ('amqp://u:pw@a.example//; amqp://u:pw@b.example//', {'type': 'rabbitmq', 'host': 'a.example',
                                                          'port': 5672, 'tls': False}),
    ('redis://:pw@Redis.Example:6379/0', {'type': 'redis', 'host': 'redis.example', 'port': 6379, 'db': 0,
                                          'tls': False}),
])
def test_broker_endpoint(url, expected):
    found = cb.broker_endpoint(url)
    assert found == expected
    assert 'pw' not in json.dumps(found)


@pytest.mark.parametrize('url, expected', [
    pytest.param('redis://:s3cret@redis:6379/0', 's3cret', id='redis-password'),
    pytest.param('rediss://user:s3cret@redis:6379/0', 's3cret', id='rediss-user-password'),
    pytest.param('redis://:p%40ss%3Aw%2Fd@redis:6379/0', 'p@ss:w/d', id='percent-decoded'),
    pytest.param('redis://redis:6379/0', '', id='no-password-empty'),
    pytest.param('redis://:s3cret@first/0;redis://:other@second/0', 's3cret', id='first-url'),
    pytest.param('amqp://shop:s3cret@rabbit:5672/vhost', 'amqp://shop:s3cret@rabbit:5672/vhost', id='amqp-url'),
    pytest.param('amqps://shop:s3cret@rabbit//', 'amqps://shop:s3cret@rabbit//', id='amqps-url'),
    pytest.param('pyamqp://shop:s3cret@rabbit//', 'amqp://shop:s3cret@rabbit//', id='pyamqp-becomes-amqp'),
    pytest.param(' amqp://a:b@one// ;amqp://c:d@two//', 'amqp://a:b@one//', id='amqp-first-url-stripped'),
])
def test_broker_auth(url, expected):
    assert cb.broker_auth(url) == expected


# --- the queue type ---------------------------------------------------------


def test_classic_asks_for_nothing():
    assert cb.broker_settings('classic') == {}


def test_quorum_declares_every_queue_quorum_and_confirms_publishes():
    settings = cb.broker_settings('quorum')
    assert settings['task_default_queue_type'] == 'quorum'
    # Named queues (-Q io, routes) are "missing" queues to Celery: the default type alone misses them.
    assert settings['task_create_missing_queue_type'] == 'quorum'
    assert settings['broker_transport_options'] == {'confirm_publish': True}
    # Native delayed delivery (ETA tasks kept by the broker) binds to topic exchanges only.
    assert settings['task_default_exchange_type'] == settings['task_create_missing_queue_exchange_type'] == 'topic'


def test_quorum_settings_are_celery_settings():
    from celery.app.defaults import DEFAULTS
    assert set(cb.broker_settings('quorum')) <= set(DEFAULTS)


def test_quorum_queues_declared_by_celery_get_the_quorum_argument():
    """What the settings do in Celery itself: the default queue and a queue a
    worker's -Q names are both declared with x-queue-type quorum."""
    from celery import Celery
    app = Celery('probe', broker='memory://')
    app.conf.update(cb.broker_settings('quorum'))
    queues = app.amqp.Queues(app.conf.task_queues)
    assert queues['celery'].queue_arguments == {'x-queue-type': 'quorum'}
    queues.select(['io'])
    assert queues['io'].queue_arguments == {'x-queue-type': 'quorum'}
    assert queues['io'].exchange.type == 'topic' and queues['celery'].exchange.type == 'topic'


@pytest.mark.parametrize('base, over, expected', [
    ({}, {}, {}),
    ({'a': 1}, {'a': 2, 'b': 3}, {'a': 2, 'b': 3}),
    ({'broker_transport_options': {'confirm_publish': True}},
     {'broker_transport_options': {'max_retries': 3}},
     {'broker_transport_options': {'confirm_publish': True, 'max_retries': 3}}),
    ({'broker_transport_options': {'confirm_publish': True}},
     {'broker_transport_options': {'confirm_publish': False}},
     {'broker_transport_options': {'confirm_publish': False}}),
    (None, {'x': 1}, {'x': 1}),
])
def test_layer_settings(base, over, expected):
    assert cb.layer_settings(base, over) == expected


@pytest.mark.parametrize('settings, fragments', [
    ({}, []),
    (cb.broker_settings('quorum'), []),
    ({'task_default_queue_type': 'classic'}, ['w sets task_default_queue_type to \'classic\'']),
    ({'task_create_missing_queue_type': 'classic'}, ['task_create_missing_queue_type']),
    ({'broker_transport_options': {'confirm_publish': False}}, ['confirm_publish to false']),
    ({'broker_transport_options': {'visibility_timeout': 10}}, []),
    ({'worker_detect_quorum_queues': False}, ['global QoS']),
])
def test_quorum_conflicts(settings, fragments):
    errors = cb.quorum_conflicts(settings, 'w')
    assert len(errors) == len(fragments)
    for error, fragment in zip(errors, fragments):
        assert fragment in error


# --- the all-in-one Compose broker ------------------------------------------------

PW = 'all-in-one-pw-4f9e'


@pytest.mark.parametrize('url, kind', [
    ('redis://:%s@broker:6379/0' % PW, 'redis'),
    ('amqp://celery:%s@broker:5672//' % PW, 'rabbitmq'),
    ('pyamqp://celery:%s@broker//' % PW, 'rabbitmq'),
])
def test_compose_broker_kind_follows_the_scheme(url, kind):
    broker = cb.compose_broker(url, PW)
    assert broker['kind'] == kind
    assert broker['errors'] == []
    assert bool(broker['definitions']) == (kind == 'rabbitmq')


@pytest.mark.parametrize('url, password, fragment', [
    ('redis://:%s@redis.example:6379/0' % PW, PW, "host (broker), not 'redis.example'"),
    ('redis://:other-password-1234@broker:6379/0', PW, 'differs from celery_compose_broker_password'),
    ('redis://broker:6379/0', PW, 'differs from celery_compose_broker_password'),
    ('amqp://guest:%s@broker:5672//' % PW, PW, "not 'guest'"),
    ('amqp://:%s@broker:5672//' % PW, PW, "not ''"),
    ('rediss://:%s@broker:6379/0' % PW, PW, 'must use redis://'),
    ('amqps://celery:%s@broker:5672//' % PW, PW, 'must use amqp://'),
    ('sqs://broker', PW, "starts with 'sqs://'"),
])
def test_compose_broker_errors_name_the_variables_and_hide_the_password(url, password, fragment):
    errors = cb.compose_broker(url, password)['errors']
    assert any(fragment in error for error in errors), errors
    assert all(error.startswith('celery_compose_broker_enabled: ') for error in errors)
    assert not any(PW in error or 'other-password-1234' in error for error in errors)


@pytest.mark.parametrize('url, vhost', [
    ('amqp://celery:%s@broker:5672//' % PW, '/'),
    ('amqp://celery:%s@broker:5672' % PW, '/'),
    ('amqp://celery:%s@broker:5672/shop' % PW, 'shop'),
    ('amqp://celery:%s@broker:5672/%%2Fshop' % PW, '/shop'),
])
def test_rabbitmq_definitions_make_the_urls_user_on_its_vhost(url, vhost):
    definitions = cb.compose_broker(url, PW)['definitions']
    assert definitions['vhosts'] == [{'name': vhost}]
    assert definitions['permissions'] == [{'user': 'celery', 'vhost': vhost, 'configure': '.*',
                                           'write': '.*', 'read': '.*'}]
    (user,) = definitions['users']
    assert user['name'] == 'celery' and user['tags'] == []
    assert user['hashing_algorithm'] == 'rabbit_password_hashing_sha256'
    assert PW not in json.dumps(definitions)


def test_rabbitmq_password_hash_is_rabbitmqs_salted_sha256():
    """What RabbitMQ checks at login: sha256(salt + password) after a 4-byte salt."""
    import base64
    import hashlib
    raw = base64.b64decode(cb.rabbitmq_password_hash('celery', PW))
    salt, digest = raw[:4], raw[4:]
    assert len(salt) == 4
    assert digest == hashlib.sha256(salt + PW.encode()).digest()
    assert hashlib.sha256(salt + b'wrong').digest() != digest


def test_rabbitmq_password_hash_is_stable_per_user_and_password():
    # The same file on a rerun (no change, no broker restart); another salt for another account.
    first = cb.rabbitmq_password_hash('celery', PW)
    assert cb.rabbitmq_password_hash('celery', PW) == first
    assert cb.rabbitmq_password_hash('other', PW)[:8] != first[:8]
    assert cb.rabbitmq_password_hash('celery', PW + 'x') != first


@pytest.mark.parametrize('url, addr', [
    ('redis://:s3cr%40t@broker:6380/2', 'redis://broker:6380'),
    ('rediss://celery:pw@redis.example.com/0', 'rediss://redis.example.com:6379'),
    ('redis://[fd00::5]:6379/1;redis://other:6379/1', 'redis://[fd00::5]:6379'),
])
def test_redis_exporter_addr_has_no_credentials_and_no_db(url, addr):
    assert cb.redis_exporter_addr(url) == addr


@pytest.mark.parametrize('url', ['amqp://guest:guest@rabbit//', 'sentinel://s1:26379/0', 'redis+socket:///run/r.sock'])
def test_redis_exporter_refuses_other_brokers(url):
    with pytest.raises(ValueError, match='Redis'):
        cb.redis_exporter_addr(url)


def test_redis_exporter_argv_checks_each_queue_in_the_urls_db_and_has_no_password():
    argv = cb.redis_exporter_argv('redis://celery:s3cr%40t@broker:6380/2', ['io', 'cpu', 'io', 'a.b:c@d/e'],
                                  '127.0.0.1:9121', '/etc/celery/demo/broker-exporter.json')
    assert argv == ['-redis.addr=redis://broker:6380', '-web.listen-address=127.0.0.1:9121', '-redis.user=celery',
                    '-redis.password-file=/etc/celery/demo/broker-exporter.json',
                    '-check-single-keys=db2=a.b:c@d/e,db2=cpu,db2=io']
    assert not any('s3cr' in arg for arg in argv)


def test_redis_exporter_passwords_key_is_the_addr_argument():
    # The exporter looks the password up by exactly its -redis.addr.
    url = 'redis://:s3cr%40t@broker:6380/2'
    assert cb.redis_exporter_passwords(url) == {'redis://broker:6380': 's3cr@t'}
    assert ('-redis.addr=%s' % list(cb.redis_exporter_passwords(url))[0]) in cb.redis_exporter_argv(url, [], ':9121')
    assert cb.redis_exporter_passwords('redis://broker:6379/0') == {}
