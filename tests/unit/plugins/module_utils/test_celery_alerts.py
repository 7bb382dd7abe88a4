# -*- coding: utf-8 -*-
"""The alert rules: valid for promtool, and each alert fires on its fault and stays quiet when healthy.

``promtool test rules`` evaluates the rules the roles render against
synthetic series shaped like Flower's and the broker exporters' metrics.
The annotations are dropped from the copy under test (promtool compares
them word for word); ``promtool check rules`` checks them, templates
included, on the rendered file.
"""

import copy
import subprocess

import pytest
import yaml

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_alerts as ca

APP = 'shop'
FLOWER = 'celeryops_app="shop", celeryops_component="flower"'
BROKER = 'celeryops_app="shop", celeryops_component="broker"'
GROUPS = [
    {'name': 'io', 'queues': ['io'], 'expected': 2, 'autoscale_queue_length': 40},
    {'name': 'cpu', 'queues': ['cpu', 'celery'], 'expected': 1, 'autoscale_queue_length': 10},
]
TICK = 'shop.tasks.tick'


def groups(broker=None):
    return [ca.worker_rules(APP, GROUPS, broker or {'type': 'redis', 'db': 0}),
            ca.beat_rules(APP, [{'task': TICK, 'every_s': 60}]),
            ca.flower_rules(APP)]


def write_rules(tmp_path, rule_groups, annotations=True):
    paths = []
    for group in rule_groups:
        group = copy.deepcopy(group)
        if not annotations:
            for rule in group['rules']:
                rule.pop('annotations', None)
        path = tmp_path / ('%s.rules.yml' % group['name'])
        path.write_text(yaml.safe_dump(ca.rules_file(group), sort_keys=False))
        paths.append(path)
    return paths


def test_promtool_checks_the_rules(tmp_path, promtool):
    for broker in ({'type': 'redis', 'db': 3}, {'type': 'rabbitmq', 'vhost': 'shop'}):
        paths = write_rules(tmp_path, groups(broker))
        proc = subprocess.run([promtool, 'check', 'rules'] + [str(path) for path in paths],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert 'SUCCESS' in proc.stdout


def online(worker, stop=None, samples=120):
    """Flower's flower_worker_online for a worker, scraped every 15 s. ``stop``:
    ('offline', n) - a clean stop after n samples (worker-offline: 0);
    ('purged', n) - a dead worker forgotten after n samples (the series goes stale)."""
    if stop is None:
        values = '1+0x%d' % samples
    elif stop[0] == 'offline':
        values = '1+0x%d 0+0x%d' % (stop[1], samples - stop[1])
    else:
        values = '1+0x%d stale' % stop[1]
    return {'series': 'flower_worker_online{%s, worker="%s"}' % (FLOWER, worker), 'values': values}


def healthy_series(**faults):
    """A healthy app (2 io workers, 1 cpu worker, short queues, 1 % failures, a tick a minute)
    unless ``faults`` say otherwise."""
    gone = faults.get('workers_gone')
    series = [
        online('io1@web1', faults.get('io_stops') or gone),
        online('io2@web1', gone),
        online('cpu1@web1', gone),
        {'series': 'redis_key_size{%s, db="db0", key="io"}' % BROKER,
         'values': '%d+0x120' % faults.get('io_queue', 5)},
        {'series': 'redis_key_size{%s, db="db0", key="cpu"}' % BROKER, 'values': '2+0x120'},
        {'series': 'flower_events_total{%s, type="task-succeeded", worker="io1@web1", task="t"}' % FLOWER,
         'values': '0+99x120'},
        {'series': 'flower_events_total{%s, type="task-failed", worker="io1@web1", task="t"}' % FLOWER,
         'values': '0+%dx120' % faults.get('failed_per_scrape', 1)},
        {'series': 'up{%s, job="whatever-it-is-called"}' % FLOWER, 'values': faults.get('flower_up', '1+0x120')},
    ]
    if gone:
        series.append({'series': 'flower_events_total{%s, type="task-received", worker="cpu1@web1",'
                                 ' task="%s"}' % (FLOWER, TICK), 'values': '0+0.25x%d stale' % gone[1]})
    elif faults.get('tick', True):
        series.append({'series': 'flower_events_total{%s, type="task-received", worker="cpu1@web1",'
                                 ' task="%s"}' % (FLOWER, TICK), 'values': '0+0.25x120'})
    else:
        series.append({'series': 'flower_events_total{%s, type="task-received", worker="cpu1@web1",'
                                 ' task="%s"}' % (FLOWER, TICK), 'values': '0+0.25x20 5+0x100'})
    return series


ALERTS = ('CeleryWorkerDown', 'CeleryQueueBacklog', 'CeleryTaskFailureRatio', 'CeleryBeatNotFiring',
          'CeleryFlowerDown')


def quiet(eval_time, names=ALERTS):
    return [{'eval_time': eval_time, 'alertname': name, 'exp_alerts': []} for name in names]


CASES = {
    # Everything healthy: nothing fires at any time checked.
    'healthy': (healthy_series(), quiet('5m') + quiet('15m') + quiet('29m')),
    # io1 forgotten by Flower at 5 m (died, then purged): the io group is
    # short one worker; cpu is fine.
    'worker died': (healthy_series(io_stops=('purged', 20)), quiet('5m', ['CeleryWorkerDown']) + [
        {'eval_time': '7m', 'alertname': 'CeleryWorkerDown', 'exp_alerts': [
            {'exp_labels': {'severity': 'critical', 'app': APP, 'group': 'io'}}]}]),
    # io1 stopped cleanly at 5 m (Flower sets 0).
    'worker stopped': (healthy_series(io_stops=('offline', 20)), quiet('5m', ['CeleryWorkerDown']) + [
        {'eval_time': '7m', 'alertname': 'CeleryWorkerDown', 'exp_alerts': [
            {'exp_labels': {'severity': 'critical', 'app': APP, 'group': 'io'}}]}]),
    # 500 tasks in io, more than 40 per live io worker (2), for 10 minutes;
    # 70 would be under the threshold and must not fire.
    'backlog': (healthy_series(io_queue=500), quiet('9m', ['CeleryQueueBacklog']) + [
        {'eval_time': '12m', 'alertname': 'CeleryQueueBacklog', 'exp_alerts': [
            {'exp_labels': {'severity': 'warning', 'app': APP, 'group': 'io'}}]}]),
    'backlog under the threshold': (healthy_series(io_queue=70), quiet('15m', ['CeleryQueueBacklog'])),
    # io1 down and 60 waiting: the threshold follows the live workers (40 x 1).
    'backlog with a worker down': (healthy_series(io_queue=60, io_stops=('purged', 4)),
                                   quiet('5m', ['CeleryQueueBacklog']) + [
        {'eval_time': '13m', 'alertname': 'CeleryQueueBacklog', 'exp_alerts': [
            {'exp_labels': {'severity': 'warning', 'app': APP, 'group': 'io'}}]}]),
    # 20 failed for 99 succeeded: 17 % > 5 %.
    'failures': (healthy_series(failed_per_scrape=20), quiet('9m', ['CeleryTaskFailureRatio']) + [
        {'eval_time': '21m', 'alertname': 'CeleryTaskFailureRatio', 'exp_alerts': [
            {'exp_labels': {'severity': 'warning', 'app': APP}}]}]),
    # The tick (every minute) stops at 5 m: 3 missed intervals are under the
    # 5-minute floor, so 5 m without one, then held 5 m.
    'beat stops': (healthy_series(tick=False), quiet('13m', ['CeleryBeatNotFiring']) + [
        {'eval_time': '17m', 'alertname': 'CeleryBeatNotFiring', 'exp_alerts': [
            {'exp_labels': {'severity': 'critical', 'app': APP, 'task': TICK}}]}]),
    # Flower stopped at 5 m: its scrape fails and the series it served go
    # stale, so every group counts 0 live workers and no tick is seen;
    # CeleryWorkerDown and CeleryBeatNotFiring stay quiet (Flower down is
    # the cause, and the one alert).
    'flower stopped, its worker series gone': (
        healthy_series(flower_up='1+0x20 0+0x100', workers_gone=('purged', 20)),
        quiet('6m', ['CeleryFlowerDown']) + quiet('8m', ['CeleryWorkerDown', 'CeleryBeatNotFiring'])
        + quiet('15m', ['CeleryWorkerDown', 'CeleryBeatNotFiring']) + [
            {'eval_time': '8m', 'alertname': 'CeleryFlowerDown', 'exp_alerts': [
                {'exp_labels': {'severity': 'critical', 'app': APP, 'job': 'whatever-it-is-called',
                                'celeryops_app': APP, 'celeryops_component': 'flower'}}]}]),
    # Flower's scrape fails from 5 m.
    'flower down': (healthy_series(flower_up='1+0x20 0+0x100'), quiet('6m', ['CeleryFlowerDown']) + [
        {'eval_time': '8m', 'alertname': 'CeleryFlowerDown', 'exp_alerts': [
            {'exp_labels': {'severity': 'critical', 'app': APP, 'job': 'whatever-it-is-called',
                            'celeryops_app': APP, 'celeryops_component': 'flower'}}]}]),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_alerts_fire_on_their_fault_only(tmp_path, promtool, case):
    series, checks = CASES[case]
    paths = write_rules(tmp_path, groups(), annotations=False)
    tests = {'rule_files': [path.name for path in paths], 'evaluation_interval': '15s',
             'tests': [{'interval': '15s', 'input_series': series, 'alert_rule_test': checks}]}
    test_file = tmp_path / 'tests.yml'
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = subprocess.run([promtool, 'test', 'rules', str(test_file)], capture_output=True, text=True,
                          timeout=60, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rabbitmq_queue_lengths_come_from_the_plugin_in_the_vhost():
    rule = ca.queue_length_rule(APP, ['io', 'celery'], {'type': 'rabbitmq', 'vhost': 'shop'})
    assert rule['expr'] == ('sum by (queue) (rabbitmq_queue_messages_ready{celeryops_app="shop",'
                            ' celeryops_component="broker", vhost="shop", queue=~"celery|io"})')


def test_a_group_without_a_plan_threshold_has_no_backlog_alert():
    rules = ca.worker_rules(APP, [{'name': 'io', 'queues': ['io'], 'expected': 1}], {'type': 'redis'})['rules']
    assert [rule.get('alert') for rule in rules if 'alert' in rule] == ['CeleryWorkerDown', 'CeleryTaskFailureRatio']


@pytest.mark.parametrize('every_s, missed, window', [(2, 3, '5m'), (60, 3, '5m'), (600, 3, '30m'), (3600, 2, '2h')])
def test_beat_window_is_missed_intervals_at_least_five_minutes(every_s, missed, window):
    (rule,) = ca.beat_rules(APP, [{'task': TICK, 'every_s': every_s}], missed)['rules']
    assert rule['for'] == window and ('[%s])) or vector(0)) < 1 and on()' % window) in rule['expr']


def test_beat_window_floor_follows_the_variable():
    # celery_beat_alert_min_window_s: a Prometheus scraping every 5 s can watch a 2 s tick over 30 s.
    (rule,) = ca.beat_rules(APP, [{'task': TICK, 'every_s': 2}], 3, min_window_s=30)['rules']
    assert rule['for'] == '30s' and '[30s])) or vector(0)) < 1 and on()' in rule['expr']
    (rule,) = ca.rules_for('beat', {'app': APP, 'tasks': [{'task': TICK, 'every_s': 60}], 'missed': 3,
                                    'min_window_s': 30})['groups'][0]['rules']
    assert rule['for'] == '3m'


def test_down_alerts_hold_as_long_as_the_variables_say():
    # celery_alert_worker_down_for_s and celery_flower_alert_down_for_s, through the roles' options.
    options = {'app': APP, 'groups': [{'name': 'io', 'queues': ['io'], 'instances': 2}],
               'broker_url': 'redis://broker:6379/0'}

    def held(component, opts):
        rules = ca.rules_for(component, opts)['groups'][0]['rules']
        down = ('CeleryWorkerDown', 'CeleryFlowerDown')
        return {rule['alert']: rule['for'] for rule in rules if rule.get('alert') in down}
    assert held('worker', options) == {'CeleryWorkerDown': '1m'}
    assert held('worker', dict(options, down_for_s=15)) == {'CeleryWorkerDown': '15s'}
    assert held('flower', {'app': APP}) == {'CeleryFlowerDown': '2m'}
    assert held('flower', {'app': APP, 'down_for_s': 30}) == {'CeleryFlowerDown': '30s'}


@pytest.mark.parametrize('address, host, prefix, target, path', [
    ('127.0.0.1', 'web1', '', '127.0.0.1:5555', '/metrics'),
    ('0.0.0.0', 'web1.example.com', 'flower', 'web1.example.com:5555', '/flower/metrics'),
    ('::', '', '/ops/flower/', '127.0.0.1:5555', '/ops/flower/metrics'),
    ('fd00::5', 'web1', '', '[fd00::5]:5555', '/metrics'),
])
def test_flower_targets_for_file_sd(address, host, prefix, target, path):
    files = ca.files_for('flower', {'app': APP, 'address': address, 'port': 5555, 'url_prefix': prefix,
                                    'host': host})
    assert sorted(files) == ['celery-shop-flower.rules.yml', 'celery-shop-flower.targets.yml']
    assert files['celery-shop-flower.targets.yml'] == [{'targets': [target], 'labels': {
        'celeryops_app': APP, 'celeryops_component': 'flower', '__metrics_path__': path}}]


@pytest.mark.parametrize('address, host, target', [
    ('127.0.0.1', 'worker1', '127.0.0.1:9121'),
    ('0.0.0.0', '10.0.0.7', '10.0.0.7:9121'),
    ('::1', '', '[::1]:9121'),
])
def test_broker_exporter_targets_carry_the_labels_the_rules_select_by(address, host, target):
    assert ca.targets(APP, 'broker', address, 9121, host=host) == [{'targets': [target], 'labels': {
        'celeryops_app': APP, 'celeryops_component': 'broker', '__metrics_path__': '/metrics'}}]
    # What queue_length_rule selects the exporter's series by.
    assert ca._selector(APP, 'broker') == 'celeryops_app="shop", celeryops_component="broker"'


def test_worker_files_add_the_hosts_exporter_targets_only_when_it_runs_one():
    options = {'app': APP, 'groups': [{'name': 'io', 'queues': ['io'], 'instances': 1}],
               'broker_url': 'redis://broker:6379/0'}
    assert sorted(ca.files_for('worker', options)) == ['celery-shop-worker.rules.yml']
    exporter = {'name': 'worker1', 'address': '0.0.0.0', 'port': 9121, 'host': '10.0.0.7'}
    files = ca.files_for('worker', dict(options, exporter=exporter))
    assert files['celery-shop-broker-worker1.targets.yml'] == ca.targets(APP, 'broker', '10.0.0.7', 9121)
    # An all-in-one RabbitMQ's plugin: its per-queue series are on its per-object endpoint.
    files = ca.files_for('worker', dict(options, exporter=dict(exporter, metrics_path='/metrics/per-object')))
    assert files['celery-shop-broker-worker1.targets.yml'][0]['labels']['__metrics_path__'] == '/metrics/per-object'


def test_no_flower_targets_on_kubernetes():
    files = ca.files_for('flower', {'app': APP, 'platform': 'kubernetes', 'address': '0.0.0.0', 'port': 5555})
    assert sorted(files) == ['celery-shop-flower.rules.yml']


def test_promtool_accepts_a_file_sd_job_on_the_targets(tmp_path, promtool):
    """The scrape job the README gives, on the targets file and the rules the roles write."""
    options = {'app': APP, 'address': '0.0.0.0', 'port': 5555, 'url_prefix': 'flower', 'host': 'web1'}
    for name, body in ca.files_for('flower', options).items():
        (tmp_path / name).write_text(yaml.safe_dump(body))
    (tmp_path / 'flower.password').write_text('your_flower_password_here\n')
    config = {'rule_files': [str(tmp_path / '*.rules.yml')], 'scrape_configs': [{
        'job_name': 'celery-flower',
        'basic_auth': {'username': 'prometheus', 'password_file': str(tmp_path / 'flower.password')},
        'file_sd_configs': [{'files': [str(tmp_path / '*-flower.targets.yml')]}]}]}
    (tmp_path / 'prometheus.yml').write_text(yaml.safe_dump(config))
    proc = subprocess.run([promtool, 'check', 'config', str(tmp_path / 'prometheus.yml')], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '1 rules found' in proc.stdout
