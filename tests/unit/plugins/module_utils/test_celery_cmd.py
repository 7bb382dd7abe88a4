"""Command lines of beat and Flower."""

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_cmd import beat_argv, flower_argv


def test_beat_default_scheduler_uses_the_schedule_file():
    assert beat_argv('proj', schedule_file='/var/lib/celery/proj/celerybeat-schedule') == [
        '-A', 'proj', 'beat', '--loglevel=INFO', '--schedule=/var/lib/celery/proj/celerybeat-schedule']


def test_beat_other_scheduler_drops_the_schedule_file():
    argv = beat_argv('proj', scheduler='redbeat.RedBeatScheduler', schedule_file='/x', max_interval=5,
                     log_level='debug', extra_args=['--quiet'])
    assert argv == ['-A', 'proj', 'beat', '--loglevel=DEBUG', '--scheduler=redbeat.RedBeatScheduler',
                    '--max-interval=5', '--quiet']


def test_flower_minimal():
    assert flower_argv('proj') == ['-A', 'proj', 'flower', '--address=127.0.0.1', '--port=5555', '--logging=info']


def test_flower_full_has_no_credentials():
    argv = flower_argv('proj', address='0.0.0.0', port=8080, url_prefix='/flower/', persistent=True,
                       db='/var/lib/celery/proj/flower.db', max_tasks=5000, purge_offline_workers=60,
                       log_level='WARNING')
    assert argv == ['-A', 'proj', 'flower', '--address=0.0.0.0', '--port=8080', '--logging=warning',
                    '--url_prefix=flower', '--persistent=True', '--db=/var/lib/celery/proj/flower.db',
                    '--max_tasks=5000', '--purge_offline_workers=60']
    assert not any('auth' in arg for arg in argv)


def test_flower_metrics_open_only_when_asked():
    # The launcher asks for the login on /metrics unless its own flag is there.
    assert '--celeryops-open-metrics' not in flower_argv('proj', extra_args=['--tasks_columns=name'])
    assert flower_argv('proj', open_metrics=True, extra_args=['--tasks_columns=name'])[-2:] == [
        '--celeryops-open-metrics', '--tasks_columns=name']


def test_flower_runtime_buckets_as_flowers_option_takes_them():
    # One comma list of floats (Tornado's multiple option), in seconds.
    argv = flower_argv('proj', runtime_buckets=[0.005, 1, 2.5, 3600])
    assert argv[-1] == '--task_runtime_metric_buckets=0.005,1,2.5,3600'
    # Empty keeps Flower's own (no option at all).
    assert not [arg for arg in flower_argv('proj', runtime_buckets=[]) if 'bucket' in arg]


@pytest.mark.parametrize('bounds', [[0, 1], [-1, 1], [1, 1], [10, 5]])
def test_flower_runtime_buckets_must_rise_above_zero(bounds):
    # prometheus_client refuses unsorted bounds when Flower starts: refused here first.
    with pytest.raises(ValueError, match='above 0 and increasing'):
        flower_argv('proj', runtime_buckets=bounds)
