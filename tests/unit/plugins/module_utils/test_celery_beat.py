# -*- coding: utf-8 -*-
"""Beat's scheduler: the singleton rule, and RedBeat's lock sized into a takeover bound."""

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_beat as cbt

REDIS = 'redis://:pw@redis:6379/0'
AMQP = 'amqp://u:pw@rabbit:5672/app'
REDBEAT = dict(scheduler='redbeat.RedBeatScheduler', allow_multiple=True, lock_timeout=30, broker_url=REDIS,
               queue_type='classic')


def test_default_scheduler_single_beat_needs_nothing():
    result = cbt.resolve_beat({'scheduler': '', 'broker_url': REDIS, 'queue_type': 'classic'})
    assert result == {'errors': [], 'locking': False, 'max_interval': 0, 'takeover_s': None, 'settings': {},
                      'environment': {}}


@pytest.mark.parametrize('scheduler', ['', 'django_celery_beat.schedulers:DatabaseScheduler'])
def test_several_beats_need_a_locking_scheduler(scheduler):
    result = cbt.resolve_beat(dict(REDBEAT, scheduler=scheduler))
    assert len(result['errors']) == 1
    assert result['errors'][0].startswith('celery_beat_allow_multiple is true, but celery_beat_scheduler')
    assert 'takes no lock' in result['errors'][0]


@pytest.mark.parametrize('name', cbt.REDBEAT)
def test_redbeat_takes_a_lock_under_each_of_its_names(name):
    result = cbt.resolve_beat(dict(REDBEAT, scheduler=name))
    assert result['errors'] == [] and result['locking'] is True


def test_redbeat_loop_and_takeover_from_the_lock_timeout():
    result = cbt.resolve_beat(REDBEAT)
    # Renewed 3 times per lock timeout; a waiting beat asks once per loop.
    assert result['max_interval'] == 10 and result['takeover_s'] == 40
    assert result['settings'] == {'redbeat_lock_timeout': 30}


def test_redbeat_keeps_a_shorter_loop():
    result = cbt.resolve_beat(dict(REDBEAT, max_interval=4))
    assert result['max_interval'] == 4 and result['takeover_s'] == 34


def test_redbeat_refuses_a_loop_that_lets_the_lock_lapse():
    errors = cbt.resolve_beat(dict(REDBEAT, max_interval=11))['errors']
    assert len(errors) == 1 and errors[0].startswith('celery_beat_max_interval_s (11 s) is longer than a third of'
                                                     ' celery_beat_lock_timeout_s (30 s)')


@pytest.mark.parametrize('lock_timeout', [0, 5, None])
def test_redbeat_refuses_a_lock_too_short_to_renew(lock_timeout):
    errors = cbt.resolve_beat(dict(REDBEAT, lock_timeout=lock_timeout))['errors']
    assert len(errors) == 1 and errors[0].startswith('celery_beat_lock_timeout_s must be 6 s or more')


def test_redbeat_on_rabbitmq_needs_its_own_redis():
    errors = cbt.resolve_beat(dict(REDBEAT, broker_url=AMQP))['errors']
    assert len(errors) == 1 and 'set celery_beat_redbeat_redis_url' in errors[0]
    result = cbt.resolve_beat(dict(REDBEAT, broker_url=AMQP, redis_url='redis://r:6379/2', queue_type='quorum'))
    assert result['errors'] == []
    # The broker's settings (quorum queues) and RedBeat's, in one layer for beat's environment.
    assert result['settings']['redbeat_redis_url'] == 'redis://r:6379/2'
    assert result['settings']['task_default_queue_type'] == 'quorum'
    assert result['settings']['redbeat_lock_timeout'] == 30


def test_redbeat_settings_are_what_redbeat_reads(missing_tool):
    """The names RedBeat itself reads from the app's configuration."""
    try:
        import redbeat  # noqa: F401 (only: is it there)
    except ImportError:
        missing_tool('celery-redbeat (requirements-dev.txt) is not installed')
    from celery import Celery
    from redbeat.schedulers import ensure_conf
    app = Celery('probe', broker=REDIS)
    app.conf.update(cbt.resolve_beat(dict(REDBEAT, redis_url='redis://r:6379/2'))['settings'])
    conf = ensure_conf(app)
    assert conf.lock_timeout == 30 and conf.redis_url == 'redis://r:6379/2'


# --- Kubernetes: schedule state and CronJobs ---------------------------------------------


def k8s(**options):
    return cbt.resolve_beat(dict({'platform': 'kubernetes', 'app_name': 'shop', 'lock_timeout': 30}, **options))


@pytest.mark.parametrize('state', ['ephemeral', 'statefulset'])
def test_k8s_state_for_the_default_scheduler(state):
    result = k8s(k8s_state=state)
    assert result['errors'] == []
    assert result['k8s_state']['kind'] == state and result['replicas'] == 1


def test_k8s_state_is_only_for_kubernetes():
    result = cbt.resolve_beat({'platform': 'systemd', 'k8s_state': 'claim'})
    assert result['errors'] == [] and 'k8s_state' not in result


def test_k8s_claim_needs_its_name():
    assert any('celery_beat_k8s_state_claim must name your PersistentVolumeClaim' in error
               for error in k8s(k8s_state='claim')['errors'])
    assert k8s(k8s_state='claim', k8s_state_claim='shop-beat')['errors'] == []


@pytest.mark.parametrize('scheduler', ['redbeat.RedBeatScheduler', 'django_celery_beat.schedulers:DatabaseScheduler'])
def test_k8s_state_refused_for_schedulers_that_keep_their_own(scheduler):
    errors = k8s(k8s_state='statefulset', scheduler=scheduler, broker_url='redis://r/0')['errors']
    assert any('keeps its state elsewhere' in error and 'celery_beat_k8s_state' in error for error in errors)


def test_k8s_state_refused_for_several_replicas():
    errors = k8s(k8s_state='statefulset', scheduler='', allow_multiple=True)['errors']
    # The default scheduler cannot run twice in the first place; RedBeat's state is not a file.
    assert any('celery_beat_allow_multiple' in error for error in errors)


def test_k8s_state_size_must_be_a_quantity():
    errors = k8s(k8s_state='statefulset', k8s_state_size='lots')['errors']
    assert any('celery_beat_k8s_state_size (deprecated; celery_beat_k8s_state_size_mb) must be a Kubernetes quantity' in error for error in errors)


def test_cronjobs_that_are_right():
    jobs = [{'name': 'tick', 'task': 'shop.tasks.tick', 'schedule': '*/5 * * * *'},
            {'name': 'nightly', 'task': 'shop.tasks:report', 'schedule': '@daily', 'args': [1],
             'kwargs': {'a': 1}, 'queue': 'io', 'expires_s': 60, 'time_zone': 'UTC',
             'starting_deadline_s': 300, 'active_deadline_s': 30}]
    assert k8s(cronjobs=jobs)['errors'] == []


@pytest.mark.parametrize('job, fragment', [
    ({'name': 'Tick', 'task': 't', 'schedule': '@daily'}, 'name must be a DNS label'),
    ({'name': 'x' * 45, 'task': 't', 'schedule': '@daily'}, 'at most 52 characters'),
    ({'name': 'tick', 'task': 'shop tasks', 'schedule': '@daily'}, 'task must be the registered task name'),
    ({'name': 'tick', 'task': 't', 'schedule': '*/5 * * *'}, 'schedule must be five cron fields'),
    ({'name': 'tick', 'task': 't', 'schedule': '@sometimes'}, 'schedule must be five cron fields'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'args': {'a': 1}}, 'args must be a list'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'kwargs': [1]}, 'kwargs must be a mapping'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'expires_s': 0}, 'expires_s must be a whole number'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'active_deadline_s': True}, 'active_deadline_s must be'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'queue': 'a b'}, 'queue must be a queue name'),
    ({'name': 'tick', 'task': 't', 'schedule': '@daily', 'every': 5}, 'unknown keys every'),
])
def test_cronjob_errors_name_the_entry(job, fragment):
    errors = k8s(cronjobs=[job])['errors']
    assert any(fragment in error and error.startswith('celery_beat_k8s_cronjobs[0]') for error in errors), errors


def test_cronjob_names_are_unique():
    job = {'name': 'tick', 'task': 't', 'schedule': '@hourly'}
    assert any("name 'tick' is used twice" in error for error in k8s(cronjobs=[job, dict(job)])['errors'])


@pytest.mark.parametrize('tasks, fragment', [
    ([{'task': 'shop.tasks.tick'}], 'must have exactly the keys task and every_s'),
    ([{'task': 'shop tasks', 'every_s': 60}], 'task must be the registered task name'),
    ([{'task': 'shop.tasks.tick', 'every_s': 0}], 'every_s must be'),
    ([{'task': 'shop.tasks.tick', 'every_s': '60'}], 'every_s must be'),
])
def test_alert_task_errors(tasks, fragment):
    errors = cbt.resolve_beat({'alert_tasks': tasks})['errors']
    assert any(error.startswith('celery_beat_alert_tasks[0]') and fragment in error for error in errors), errors


def test_alert_tasks_that_are_right():
    assert cbt.resolve_beat({'alert_tasks': [{'task': 'shop.tasks.tick', 'every_s': 60}]})['errors'] == []
