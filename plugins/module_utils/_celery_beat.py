# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Beat's scheduler: whether it takes a lock, and the settings a locking one needs.

Beat is a singleton unless its scheduler takes a lock: then any number of
beats may run, one holds the lock and schedules, the others wait for it.
RedBeat holds a lock in Redis that the holder renews on every pass of its
loop and that expires ``lock_timeout`` seconds after the last renewal; a
waiting beat asks for it every ``max_interval`` seconds. So when the holder
dies, another beat schedules within ``lock_timeout + max_interval``: the
takeover bound the roles size and document.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
    broker_endpoint, broker_settings, layer_settings, settings_env)

# RedBeat's scheduler under the names Celery accepts for it.
REDBEAT = ('redbeat.RedBeatScheduler', 'redbeat.schedulers.RedBeatScheduler', 'redbeat.schedulers:RedBeatScheduler',
           'redbeat:RedBeatScheduler')
# A beat renews its lock at least this many times per lock timeout.
RENEWALS_PER_LOCK = 3


def is_redbeat(scheduler):
    return (scheduler or '').strip() in REDBEAT


def resolve_beat(options):
    """What beat runs with: ``errors``, ``locking``, ``max_interval`` (for
    ``--max-interval``, 0 for Celery's), ``takeover_s`` (None unless
    locking), ``settings`` (Celery settings for beat: the broker's, then
    RedBeat's) and ``environment`` (what carries them to beat's process).

    ``options``: ``scheduler``, ``max_interval``, ``allow_multiple``,
    ``lock_timeout``,
    ``redis_url`` (RedBeat's; empty: the broker's), ``broker_url``,
    ``queue_type``.
    """
    scheduler = options.get('scheduler') or ''
    max_interval = int(options.get('max_interval') or 0)
    redbeat = is_redbeat(scheduler)
    settings = broker_settings(options.get('queue_type'))
    result = {'errors': [], 'locking': redbeat, 'max_interval': max_interval, 'takeover_s': None,
              'settings': settings, 'environment': settings_env(settings)}
    if options.get('allow_multiple') and not redbeat:
        result['errors'].append(
            'celery_beat_allow_multiple is true, but celery_beat_scheduler %r takes no lock: every beat would send'
            ' each periodic task. Use redbeat.RedBeatScheduler (celery-redbeat in celery_python_packages), whose'
            ' beats wait for one lock, or run beat on one host.' % (scheduler or "(Celery's default)"))
    if not redbeat:
        return result
    lock_timeout = int(options.get('lock_timeout') or 0)
    if lock_timeout < 2 * RENEWALS_PER_LOCK:
        result['errors'].append('celery_beat_lock_timeout must be %d s or more (the lock is renewed %d times within'
                                ' it); got %r' % (2 * RENEWALS_PER_LOCK, RENEWALS_PER_LOCK,
                                                  options.get('lock_timeout')))
        return result
    # The holder renews the lock once per loop: a loop longer than a third of
    # the lock's life would let it lapse while the holder is healthy.
    longest = lock_timeout // RENEWALS_PER_LOCK
    if max_interval > longest:
        result['errors'].append(
            'celery_beat_max_interval (%d s) is longer than a third of celery_beat_lock_timeout (%d s): RedBeat'
            ' renews its lock once per loop, so the lock would lapse between renewals and a second beat take'
            ' over while the first still runs. Set celery_beat_max_interval to %d or less, or raise the lock'
            ' timeout.' % (max_interval, lock_timeout, longest))
        return result
    max_interval = max_interval or longest
    redis_url = options.get('redis_url') or ''
    if not redis_url and broker_endpoint(options.get('broker_url') or '')['type'] != 'redis':
        result['errors'].append(
            'celery_beat_scheduler is RedBeat, which keeps its schedule and lock in Redis, but celery_broker_url is'
            ' not a Redis URL: set celery_beat_redbeat_redis_url (a redis:// URL, secret).')
        return result
    redbeat_settings = {'redbeat_lock_timeout': lock_timeout}
    if redis_url:
        redbeat_settings['redbeat_redis_url'] = redis_url
    settings = layer_settings(settings, redbeat_settings)
    result.update(max_interval=max_interval, takeover_s=lock_timeout + max_interval, settings=settings,
                  environment=settings_env(settings))
    return result
