"""Renamed variables (docs/naming.md): the old names still work, say so, and cannot disagree.

The rename table (plugin_utils/_celery_renames.py) is the one source: every
new name is in its role's spec with the old default, every old one is there
marked deprecated, and defaults/main.yml gives the new name the old one's
value. A real render (examples/kubernetes/, celeryops.deploy.site) with old
names set must warn for each, naming the new one, and render their values;
an old and a new name set to different values must fail preflight.
"""

import json
import os
import re

import pytest
import yaml
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_renames as renames
from example_render import ROOT, render_example

SPEC = os.path.join(ROOT, 'roles', '%s', 'meta', 'argument_specs.yml')
DEFAULTS = os.path.join(ROOT, 'roles', '%s', 'defaults', 'main.yml')
ROWS = [(scope, old, new) for scope, table in sorted(renames.RENAMED.items()) for old, new in sorted(table.items())]


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize('scope, old, new', ROWS)
def test_the_spec_and_defaults_carry_both_names(scope, old, new):
    assert new.endswith('_s'), '%s: a duration is named with _s' % new
    options = _load(SPEC % scope)['argument_specs']['main']['options']
    assert 'default' in options[new], '%s has no default in the spec' % new
    assert 'default' not in options[old], '%s (deprecated) must have no default: set means the user set it' % old
    assert 'Deprecated: use O(%s)' % new in ' '.join(options[old]['description'].split())
    assert options[old]['type'] == options[new]['type']
    defaults = _load(DEFAULTS % scope)
    assert old not in defaults, 'defaults/main.yml must not set %s' % old
    match = re.match(r'^{{ (\w+) \| default\((.*)\) }}$', str(defaults[new]))
    assert match and match.group(1) == old, '%s: %r' % (new, defaults[new])
    assert yaml.safe_load(match.group(2)) == options[new]['default'], '%s: the old default changed' % new


def test_only_the_shared_names_and_the_plays_roles_are_looked_at():
    names = ['celery_rollout_settle', 'celery_beat_max_interval', 'celery_worker_watchdog', 'celery_app_name']
    assert renames.renamed_set(names, ['celeryops.deploy.celery_worker', 'celeryops.deploy.celery_common']) == [
        ['celery_rollout_settle', 'celery_rollout_settle_s'], ['celery_worker_watchdog', 'celery_worker_watchdog_s']]
    assert renames.renamed_set(names, []) == [['celery_rollout_settle', 'celery_rollout_settle_s']]


def test_the_filter_warns_until_the_tables_version():
    with open(os.path.join(ROOT, 'plugins', 'filter', '_celery_internal.py')) as handle:
        assert "version='%s'" % renames.REMOVED_IN in handle.read()


def test_a_disagreement_is_named_without_its_values():
    pairs = [['celery_rollout_settle', 'celery_rollout_settle_s'], ['celery_worker_watchdog', 'celery_worker_watchdog_s']]
    errors = renames.conflicts(pairs, [5, 20], ['5', 30])
    assert errors == ['celery_worker_watchdog and celery_worker_watchdog_s are both set, to different values: '
                      'set only celery_worker_watchdog_s']


@pytest.fixture(scope='module')
def old_names(tmp_path_factory):
    return render_example(tmp_path_factory.mktemp('old'), 'celery_k8s_progress_deadline=321',
                          'celery_flower_purge_offline_workers=77', 'celery_beat_max_interval=7')


def test_old_names_warn_naming_the_new_one(old_names):
    code, log = old_names[:2]
    assert code == 0, log[-5000:]
    flat = ' '.join(log.split())
    for old in ('celery_k8s_progress_deadline', 'celery_flower_purge_offline_workers', 'celery_beat_max_interval'):
        assert '[DEPRECATION WARNING]: %s is deprecated: use %s_s' % (old, old) in flat, old


def test_old_names_still_set_the_value(old_names):
    files = old_names[2]
    assert files['20-worker.yaml'].count('progressDeadlineSeconds: 321') == 2
    assert '--purge_offline_workers=77' in files['40-flower.yaml']
    assert '--max-interval=7' in files['30-beat.yaml']


def test_an_old_and_a_new_name_that_disagree_fail_preflight(tmp_path):
    code, log, files = render_example(tmp_path, 'celery_k8s_progress_deadline=321', 'celery_k8s_progress_deadline_s=600')
    assert code != 0
    assert 'celery_k8s_progress_deadline and celery_k8s_progress_deadline_s are both set, to different values' in log
    assert not files, 'nothing may be rendered'


def test_old_worker_group_keys_warn_and_still_work(tmp_path):
    groups = [{'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 4, 'time_limit': 120,
               'autoscaling': 'keda', 'memory_limit_mb': 256},
              {'name': 'reports', 'queues': ['reports'], 'pool': 'prefork', 'concurrency': 2,
               'max_memory_per_child': 153600}]
    code, log, files = render_example(tmp_path, json.dumps({'celery_worker_groups': groups}))
    assert code == 0, log[-5000:]
    flat = ' '.join(log.split())
    for old, new in (('(io).time_limit', 'time_limit_s'), ('(io).autoscaling', 'k8s_autoscaling'),
                     ('(reports).max_memory_per_child', 'max_memory_per_child_mb (MiB, not KiB)')):
        assert '[DEPRECATION WARNING]: celery_worker_groups[%d] %s is deprecated: use %s' % (
            0 if '(io)' in old else 1, old, new) in flat, old
    worker = files['20-worker.yaml']
    assert '--time-limit=120' in worker and '--max-memory-per-child=153600' in worker
    assert 'kind: ScaledObject' in worker


RESIZED = [(scope, old, new, unit) for scope, table in sorted(renames.RESIZED.items())
           for old, (new, unit) in sorted(table.items())]


@pytest.mark.parametrize('scope, old, new, unit', RESIZED)
def test_sizes_are_whole_mib_and_the_old_strings_stay_in_the_spec(scope, old, new, unit):
    assert new.endswith('_mb') and unit in ('M', 'm', 'Mi')
    options = _load(SPEC % scope)['argument_specs']['main']['options']
    assert options[new]['type'] == 'int' and isinstance(options[new]['default'], int)
    assert options[old]['type'] == 'str' and 'default' not in options[old]
    assert 'Deprecated: use O(%s)' % new in ' '.join(options[old]['description'].split())
    defaults = _load(DEFAULTS % scope)
    assert old not in defaults and defaults[new] == options[new]['default']


def test_an_old_size_string_is_used_as_it_is_and_never_refused():
    pairs = renames.renamed_set(['celery_logrotate_maxsize', 'celery_logrotate_maxsize_mb'], [])
    assert pairs == [['celery_logrotate_maxsize', 'celery_logrotate_maxsize_mb']]
    assert renames.conflicts(pairs, ['1G'], [100]) == []
    assert 'the size string given is used as it is' in renames.deprecation(*pairs[0])


def test_an_old_claim_size_renders_unchanged(tmp_path):
    code, log, files = render_example(tmp_path, 'celery_flower_persistent=true', 'celery_flower_k8s_state_size=300Mi')
    assert code == 0, log[-5000:]
    assert 'storage: 300Mi' in files['40-flower.yaml']
    assert '[DEPRECATION WARNING]: celery_flower_k8s_state_size is deprecated: use celery_flower_k8s_state_size_mb' \
        in ' '.join(log.split())


def test_the_new_claim_size_renders_in_mib(tmp_path):
    code, log, files = render_example(tmp_path, 'celery_flower_persistent=true', 'celery_flower_k8s_state_size_mb=512')
    assert code == 0, log[-5000:]
    assert 'storage: 512Mi' in files['40-flower.yaml'] and 'DEPRECATION' not in log
