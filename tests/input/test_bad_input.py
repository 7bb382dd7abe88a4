"""Wrong input fails in preflight, before any task that could change the host,
with a message that names the variable (and never shows a secret).

Each case runs the real role with ansible-playbook, for real (not in check
mode) against localhost, reads the JSON callback's record of every task, and
compares a snapshot of everything the roles could touch on this host (their
directories, units, accounts, packages, Compose containers and volumes)
taken before and after the run: it must not differ.
"""

import atexit
import copy
import functools
import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = 'your_broker_password_here'
GOOD = {
    'celery_app_name': 'shop',
    'celery_app_module': 'shop.celery:app',
    'celery_broker_url': 'redis://:%s@127.0.0.1:6379/0' % SECRET,
    'celery_python_packages': ['shop'],
    'celery_worker_groups': [
        {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8},
        {'name': 'cpu', 'queues': ['cpu'], 'pool': 'prefork', 'concurrency': 2, 'instances': 2},
    ],
}
# Tasks that only read or check; the first task outside this set is where the
# host could start to change.
PREFLIGHT_PREFIXES = ('Validating arguments', 'Check ', 'Gather the facts', 'Work out the worker groups',
                      'Plan the worker groups', 'Show the plan', 'Require Docker Compose v2')


def with_group(index, **changes):
    variables = copy.deepcopy(GOOD)
    variables['celery_worker_groups'][index].update(changes)
    return variables


def without(key):
    variables = copy.deepcopy(GOOD)
    del variables[key]
    return variables


def with_value(**changes):
    variables = copy.deepcopy(GOOD)
    variables.update(changes)
    return variables


FLOWER = dict(GOOD, celery_flower_basic_auth=['admin:your_flower_password_here'])


def flower_without(key):
    variables = copy.deepcopy(FLOWER)
    del variables[key]
    return variables


# The same app on the compose platform. run_role points the project directory
# at a path that does not exist, so no Compose file is found and
# `docker compose up` is never run (the one Docker command that runs is the
# read-only `docker compose version` of preflight). celery_image defaults to
# "", so 'image missing' is also the empty-image case.
COMPOSE = dict(GOOD, celery_platform='compose', celery_image='registry.example.com/shop/app:1.4.2')
BROKER_PASSWORD = 'your_compose_broker_password'
SHORT_BROKER_PASSWORD = 'Sh0rt-pw7'
# Values that must never reach the output or the log.
SECRETS = (SECRET, 'your_flower_password_here', BROKER_PASSWORD, SHORT_BROKER_PASSWORD)


def compose_with(**changes):
    variables = copy.deepcopy(COMPOSE)
    variables.update(changes)
    return variables


def compose_with_group(index, **changes):
    variables = copy.deepcopy(COMPOSE)
    variables['celery_worker_groups'][index].update(changes)
    return variables


def compose_without(key):
    variables = copy.deepcopy(COMPOSE)
    del variables[key]
    return variables


# Cases for other roles: (playbook, hosts, variables, fragments).
ROLE_CASES = {
    'flower without authentication': ('playbook_flower.yml', 'localhost,',
                                      flower_without('celery_flower_basic_auth'),
                                      ['celery_flower_basic_auth is empty', 'celery_flower_auth_disabled']),
    'flower credential without a password': ('playbook_flower.yml', 'localhost,',
                                             dict(FLOWER, celery_flower_basic_auth=['admin']),
                                             ['celery_flower_basic_auth entries must be']),
    'flower down alert held too briefly': ('playbook_flower.yml', 'localhost,',
                                           dict(FLOWER, celery_flower_alert_down_for_s=10),
                                           ['celery_flower_alert_down_for_s 30 or more (got 10)']),
    'flower runtime buckets not increasing': ('playbook_flower.yml', 'localhost,',
                                              dict(FLOWER, celery_flower_runtime_buckets_s=[1, 60, 30]),
                                              ['celery_flower_runtime_buckets_s above 0 and increasing (got [1, 60, 30])']),
    'flower port out of range': ('playbook_flower.yml', 'localhost,', dict(FLOWER, celery_flower_port=70000),
                                 ['celery_flower_port must be 1-65535']),
    'beat state on a claim without its name': (
        'playbook_beat.yml', 'localhost,', compose_with(celery_platform='kubernetes', celery_beat_k8s_state='claim'),
        ['celery_beat_k8s_state_claim must name your PersistentVolumeClaim']),
    'cronjob with a schedule cron cannot read': (
        'playbook_beat.yml', 'localhost,',
        compose_with(celery_platform='kubernetes', celery_beat_k8s_cronjobs=[
            {'name': 'tick', 'task': 'shop.tasks.tick', 'schedule': 'every 5 minutes'}]),
        ['celery_beat_k8s_cronjobs[0] (tick): schedule must be five cron fields']),
    'beat on two hosts': ('playbook_beat.yml', 'beat-a,beat-b,', GOOD, ['would run on 2 hosts (beat-a, beat-b)']),
    'status on kubernetes': ('playbook_status.yml', os.path.join(HERE, 'status_inventory.ini'),
                             dict(GOOD, celery_platform='kubernetes'),
                             ['celery_platform is kubernetes', 'systemd and Compose hosts only', 'kubectl get']),
    'status queue limit not a number': ('playbook_status.yml', os.path.join(HERE, 'status_inventory.ini'),
                                        dict(GOOD, celery_status_queue_max='lots'),
                                        ['celery_status_queue_max must be an integer >= 0', 'got lots']),
    'several beats without a locking scheduler': (
        'playbook_beat.yml', 'beat-a,beat-b,', dict(GOOD, celery_beat_allow_multiple=True),
        ['celery_beat_allow_multiple is true, but celery_beat_scheduler', 'takes no lock']),
    'redbeat on rabbitmq without its redis': (
        'playbook_beat.yml', 'localhost,',
        dict(GOOD, celery_beat_scheduler='redbeat.RedBeatScheduler',
             celery_broker_url='amqp://shop:%s@127.0.0.1:5672//' % SECRET),
        ['set celery_beat_redbeat_redis_url']),
    'redbeat loop longer than a third of its lock': (
        'playbook_beat.yml', 'localhost,',
        dict(GOOD, celery_beat_scheduler='redbeat.RedBeatScheduler', celery_beat_max_interval_s=20),
        ['celery_beat_max_interval_s (20 s) is longer than a third of celery_beat_lock_timeout_s (30 s)']),
    'beat alert window too short': ('playbook_beat.yml', 'localhost,', dict(GOOD, celery_beat_alert_min_window_s=5),
                                    ['celery_beat_alert_min_window_s 20 or more seconds (got 5)']),
    'beat scheduler not a class path': ('playbook_beat.yml', 'localhost,',
                                        dict(GOOD, celery_beat_scheduler='not a class'), ['celery_beat_scheduler']),
    # The private role used directly: refused before it checks or changes anything.
    'celery_common used directly': ('playbook_common.yml', 'localhost,', GOOD,
                                    ['celeryops.deploy.celery_common is private']),
    'celery_common entry point used directly': ('playbook_common_install.yml', 'localhost,', GOOD,
                                                ['celeryops.deploy.celery_common is private']),
    'flower environment value with a newline on compose': (
        'playbook_flower.yml', 'localhost,',
        dict(FLOWER, celery_platform='compose', celery_image='registry.example.com/shop/app:1.4.2',
             celery_flower_environment={'GREETING': 'hello\nINJECTED=1'}),
        ['celery_flower_environment: values must be single lines']),
    'flower environment with a secret you manage': (
        'playbook_flower.yml', 'localhost,',
        dict(FLOWER, celery_platform='kubernetes', celery_image='registry.example.com/shop/app:1.4.2',
             celery_flower_k8s_existing_secret='shop-flower', celery_flower_environment={'FLOWER_EXTRA': 'x'}),
        ['celery_flower_environment is not empty, but celery_flower_k8s_existing_secret']),
    'flower monitor without a login to scrape with': (
        'playbook_flower.yml', 'localhost,',
        dict(FLOWER, celery_platform='kubernetes', celery_image='registry.example.com/shop/app:1.4.2',
             celery_flower_k8s_existing_secret='shop-flower', celery_k8s_prometheus_operator=True),
        ['celery_flower_k8s_existing_secret names a Secret you manage: set celery_flower_k8s_scrape_secret']),
}

CASES = {
    'a renamed variable set by both names, differently': (
        dict(GOOD, celery_rollout_settle=5, celery_rollout_settle_s=9),
        ['celery_rollout_settle and celery_rollout_settle_s are both set, to different values: set only '
         'celery_rollout_settle_s']),
    'a worker group key set by both names': (
        with_group(1, time_limit_s=60, time_limit=60),
        ['celery_worker_groups[1] (cpu) sets both time_limit_s and time_limit (its deprecated name): set only '
         'time_limit_s']),
    'pip arguments that are not strings': (
        dict(GOOD, celery_pip_extra_args=['--no-index', {'find-links': '/srv'}]),
        ['celery_pip_extra_args']),
    'task as long as the rabbitmq consumer timeout': (
        dict(with_group(1, time_limit_s=3600), celery_broker_url='amqp://shop:%s@127.0.0.1:5672//' % SECRET),
        ['celery_worker_groups[1] (cpu).time_limit_s (3600 s)', 'celery_broker_consumer_timeout_s: 1800 s']),
    'autoscale with quorum queues': (
        dict(with_group(0, pool_autoscale='8,2'), celery_broker_url='amqp://shop:%s@127.0.0.1:5672//' % SECRET,
             celery_broker_queue_type='quorum'),
        ['celery_worker_groups[0] (io).pool_autoscale is set, but celery_broker_queue_type is quorum']),
    'quorum queues on a redis broker': (
        dict(GOOD, celery_broker_queue_type='quorum'),
        ['celery_broker_queue_type is quorum, a RabbitMQ queue type, but celery_broker_url is not']),
    'unknown queue type': (dict(GOOD, celery_broker_queue_type='stream'), ['celery_broker_queue_type']),
    'worker down alert held too briefly': (dict(GOOD, celery_alert_worker_down_for_s=5),
                                           ['celery_alert_worker_down_for_s 15 or more seconds', '(got 5)']),
    'unknown pool': (with_group(0, pool='fork'), ['celery_worker_groups', 'pool']),
    'concurrency zero': (with_group(0, concurrency=0), ['celery_worker_groups[0] (io).concurrency']),
    # The plan module refuses a workload no host could run, with the numbers.
    'impossible workload': (with_group(0, kind='io', task_memory_mb=50000000, avg_duration_s=0.1),
                            ['group io: one task needs']),
    'concurrency negative': (with_group(1, concurrency=-2), ['celery_worker_groups[1] (cpu).concurrency']),
    'concurrency not a number': (with_group(0, concurrency='lots'), ['celery_worker_groups', 'concurrency']),
    'instances zero': (with_group(1, instances=0), ['celery_worker_groups[1] (cpu).instances']),
    'empty queue list': (with_group(0, queues=[]), ['celery_worker_groups[0] (io).queues']),
    'group name with underscore': (with_group(0, name='io_fast'), ['celery_worker_groups[0].name']),
    'group name with capitals': (with_group(0, name='IO'), ['celery_worker_groups[0].name']),
    'group name ending in a digit': (with_group(0, name='q1'), ['celery_worker_groups[0].name']),
    'duplicate group names': (with_group(1, name='io'), ["celery_worker_groups[1].name 'io' is used twice"]),
    'max_tasks_per_child on threads': (with_group(0, max_tasks_per_child=100), ['(io).max_tasks_per_child']),
    'broker URL without scheme': (with_value(celery_broker_url=SECRET + '@127.0.0.1:6379'), ['celery_broker_url']),
    'broker URL missing': (without('celery_broker_url'), ['celery_broker_url']),
    'app module missing': (without('celery_app_module'), ['celery_app_module']),
    'app module not a module path': (with_value(celery_app_module='shop celery'), ['celery_app_module']),
    'app name invalid': (with_value(celery_app_name='Shop_App'), ['celery_app_name']),
    'platform unknown': (with_value(celery_platform='nomad'), ['celery_platform']),
    'state unknown': (with_value(celery_worker_state='stopped'), ['celery_worker_state']),
    'environment overrides the broker': (with_value(celery_environment={'CELERY_BROKER_URL': 'x'}), ['celery_environment']),
    # Celery settings from the inventory: no connection string (it would hold
    # the password), and requeue-on-loss needs late acknowledgement.
    'broker URL in celery_worker_settings': (with_value(celery_worker_settings={'broker_url': GOOD['celery_broker_url']}),
                                             ['celery_worker_settings must not set broker_url']),
    'reject_on_worker_lost without acks_late': (with_value(celery_worker_acks_late=False,
                                                           celery_worker_reject_on_worker_lost=True),
                                                ['celery_worker_reject_on_worker_lost', 'celery_worker_acks_late']),
    'acks_late not a boolean': (with_value(celery_worker_acks_late='sometimes'), ['celery_worker_acks_late']),
    'broker exporter on a rabbitmq broker': (
        with_value(celery_broker_exporter_enabled=True, celery_broker_url='amqp://shop:%s@127.0.0.1:5672//' % SECRET),
        ['celery_broker_exporter_enabled deploys prometheus-redis-exporter', 'a rabbitmq broker']),
    'broker exporter on kubernetes without an image': (
        with_value(celery_broker_exporter_enabled=True, celery_platform='kubernetes',
                   celery_image='registry.example.com/shop/app:1.4.2'),
        ["(celery_platform kubernetes) celery_broker_exporter_image must name its image (got '')"]),
    'broker exporter port out of range': (
        with_value(celery_broker_exporter_enabled=True, celery_broker_exporter_port=70000),
        ['celery_broker_exporter_port a port, 1-65535 (got 70000)']),
    'group setting the command line sets': (with_group(0, settings={'worker_concurrency': 4}),
                                            ["(io).settings must not set worker_concurrency: use the worker group key"]),
}


COMPOSE_CASES = {
    'image missing': (compose_without('celery_image'), ['celery_image must name']),
    'image with a space': (compose_with(celery_image='registry.example.com/shop/app:1.4.2 --privileged'),
                           ['celery_image must name']),
    'container uid 0': (compose_with(celery_container_uid=0), ['celery_container_uid']),
    'broker exporter on compose without its image': (
        compose_with(celery_broker_exporter_enabled=True),
        ['celery_broker_exporter_enabled deploys prometheus-redis-exporter',
         "(celery_platform compose) celery_broker_exporter_image must name its image (got '')"]),
    'broker enabled without a password': (compose_with(celery_compose_broker_enabled=True),
                                          ['celery_compose_broker_password must be set']),
    'broker password too short': (compose_with(celery_compose_broker_enabled=True,
                                               celery_compose_broker_password=SHORT_BROKER_PASSWORD),
                                  ['celery_compose_broker_password', '12 or more characters']),
    'broker enabled, URL elsewhere': (compose_with(celery_compose_broker_enabled=True,
                                                   celery_compose_broker_password=BROKER_PASSWORD),
                                      ['celery_broker_url must name the broker service as its host']),
    'broker URL with another password': (compose_with(celery_compose_broker_enabled=True,
                                                      celery_compose_broker_password=BROKER_PASSWORD,
                                                      celery_broker_url='redis://:%s-x@broker:6379/0' % BROKER_PASSWORD),
                                         ['differs from celery_compose_broker_password']),
    'RabbitMQ broker as guest': (compose_with(celery_compose_broker_enabled=True,
                                              celery_compose_broker_password=BROKER_PASSWORD,
                                              celery_broker_url='amqp://guest:%s@broker:5672//' % BROKER_PASSWORD),
                                 ["not 'guest': RabbitMQ lets guest in from loopback only"]),
    'environment value with a newline': (compose_with(celery_environment={'GREETING': 'hello\nINJECTED=1'}),
                                         ['celery_environment']),
    'group environment value with a newline': (compose_with_group(0, environment={'GREETING': 'hello\nINJECTED=1'}),
                                               ['celery_worker_groups[].environment: values must be single lines']),
    'unknown platform': (compose_with(celery_platform='nomad'),
                         ['value of celery_platform must be one of: systemd, compose, kubernetes, got: nomad']),
    'kubernetes namespace': (compose_with(celery_platform='kubernetes', celery_k8s_namespace='Bad_Name'),
                             ['celery_k8s_namespace must be a DNS label']),
    'keda on an sqs broker': (compose_with(celery_platform='kubernetes', celery_k8s_autoscaling='keda',
                                           celery_broker_url='sqs://your_aws_key_here:%s@' % SECRET),
                              ["celery_k8s_autoscaling (or a worker group's k8s_autoscaling) is 'keda'"]),
    'kubernetes plan from the controller': (
        compose_with(celery_platform='kubernetes', celery_worker_groups=[
            {'name': 'io', 'queues': ['io'], 'kind': 'io', 'task_memory_mb': 30, 'avg_duration_s': 0.05}]),
        ['worker group(s) io describe a workload', 'set celery_worker_plan_cpus and celery_worker_plan_memory_mb']),
    'kubernetes worker without a memory limit': (
        compose_with(celery_platform='kubernetes', celery_worker_groups=[
            {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8}]),
        ['On Kubernetes every worker container needs a memory limit', 'worker group io runs without a memory limit',
         'Give it memory_limit_mb']),
    'pod label that would detach the pods': (
        compose_with(celery_platform='kubernetes', celery_k8s_pod={'labels': {'app.kubernetes.io/name': 'x'}},
                     celery_worker_groups=[{'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8,
                                            'memory_limit_mb': 300}]),
        ['celery_k8s_pod.labels must not set app.kubernetes.io/name']),
    'plan cpus zero': (compose_with(celery_platform='kubernetes', celery_worker_plan_cpus=0,
                                    celery_worker_plan_memory_mb=4096),
                       ['celery_worker_plan_cpus must be more than 0 CPUs']),
    # These fail in the worker's own checks, after the shared ones have run
    # `docker compose version` on the target.
    'cpu_limit zero': (compose_with_group(0, cpu_limit=0), ['celery_worker_groups[0] (io).cpu_limit']),
    'cpu_limit not a number': (compose_with_group(1, cpu_limit='lots'), ['celery_worker_groups', 'cpu_limit']),
}
AFTER_ENGINE_CHECK = ('cpu_limit zero', 'cpu_limit not a number')


@functools.lru_cache(maxsize=None)
def compose_runs_here():
    try:
        return subprocess.run(['docker', 'compose', 'version'], capture_output=True, timeout=30,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# Where the roles write on a systemd host for the test's app, `shop` (every
# path they write carries the app's name, so other apps, and tests running
# beside these, do not disturb the snapshot); a Compose project lives in the
# test's own directory.
APP = GOOD['celery_app_name']
WATCHED = (('/etc/systemd/system', APP + '-'), ('/etc/celery', APP), ('/opt/celery', APP),
           ('/var/lib/celery', APP), ('/var/log/celery', APP), ('/run/celery', APP),
           ('/etc/logrotate.d', 'celery-' + APP), ('/etc/tmpfiles.d', 'celery-' + APP))


def _tree(root, prefix=''):
    """Every entry under root whose top-level name starts with prefix: type,
    mode, owner, size, mtime and (small files) content hash."""
    entries = {}
    if not os.path.isdir(root):
        return None
    for top in sorted(name for name in os.listdir(root) if name.startswith(prefix)):
        for path in [os.path.join(root, top)] + sorted(
                os.path.join(directory, name) for directory, dirs, files in os.walk(os.path.join(root, top))
                for name in dirs + files):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            entry = (info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns)
            if os.path.isfile(path) and not os.path.islink(path) and info.st_size < (1 << 20):
                with open(path, 'rb') as handle:
                    entry += (hashlib.sha256(handle.read()).hexdigest(),)
            entries[path] = entry
    return entries


def _command(*argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 'unavailable: %s' % error
    return '%d\n%s' % (proc.returncode, proc.stdout)


def host_state(project_dir):
    """A snapshot of what the roles could change on this host."""
    state = {'accounts': (sorted(entry.pw_name for entry in pwd.getpwall()),
                          sorted(entry.gr_name for entry in grp.getgrall())),
             'packages': _command('dpkg-query', '-W', '-f', '${Package} ${Version} ${Status}\n'),
             'units': _command('systemctl', 'list-unit-files', '--no-legend', 'shop-*')}
    for root, prefix in WATCHED + ((project_dir, ''),):
        state[root] = _tree(root, prefix)
    if not compose_runs_here() and (os.environ.get('CELERYOPS_REQUIRE_TOOLS') or os.environ.get('CI')):
        raise AssertionError('docker compose does not run here: the snapshot would miss containers and volumes')
    if compose_runs_here():
        label = 'label=com.docker.compose.project=shop'
        state['containers'] = _command('docker', 'ps', '-a', '-q', '--filter', label)
        state['volumes'] = _command('docker', 'volume', 'ls', '-q', '--filter', label)
    return state


def assert_host_unchanged(before, after):
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    details = {}
    for key in changed:
        if isinstance(before.get(key), dict) and isinstance(after.get(key), dict):
            paths = set(before[key]) | set(after[key])
            details[key] = sorted(path for path in paths if before[key].get(path) != after[key].get(path))[:10]
        else:
            details[key] = 'differs'
    assert not changed, 'the host changed: %s' % details


def ansible_env(log):
    return dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json', ANSIBLE_NOCOLOR='1',
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
                ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_LOG_PATH=log)


# -v: secrets must stay out of the output and log at a raised verbosity too.
# Bad input runs for real; good input only in check mode (it would deploy).
def run_role(variables, tmp_path, playbook='playbook.yml', hosts='localhost,', check=False):
    if variables.get('celery_platform') == 'compose':
        variables = dict(variables, celery_compose_project_dir=str(tmp_path / 'project'))
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps(variables))
    env = ansible_env(str(tmp_path / 'ansible.log'))
    before = None if check else host_state(str(tmp_path / 'project'))
    command = ['ansible-playbook', '-v'] + (['--check'] if check else [])
    command += ['-c', 'local', '-i', hosts, '-e', '@%s' % extra, os.path.join(HERE, playbook)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    if before is not None:
        assert_host_unchanged(before, host_state(str(tmp_path / 'project')))
    # -v prints "Using ... as config file" before the JSON document.
    if '{' in proc.stdout:
        proc.stdout = proc.stdout[proc.stdout.index('{'):]
    return proc


def check_fails_in_preflight(proc, fragments, tmp_path):
    assert proc.returncode != 0, 'the role accepted bad input'
    check_report(json.loads(proc.stdout), fragments, proc.stdout + proc.stderr, (tmp_path / 'ansible.log').read_text())


def check_report(report, fragments, output, log, host=None):
    """The run failed in exactly one task, a check, with every fragment in its
    message, and no secret reached the output or the log. host: read only
    that host's results (a batch run holds a case per host)."""
    def results(task):
        return [result for name, result in task['hosts'].items() if host in (None, name)]
    tasks = [task for play in report['plays'] for task in play['tasks'] if results(task)]
    failed = [task for task in tasks if any(result.get('failed') for result in results(task))]
    assert len(failed) == 1, [task['task']['name'] for task in tasks]
    # Everything up to and including the failure is a read-only check.
    for task in tasks:
        short = task['task']['name'].split(' : ')[-1]
        assert short.startswith(PREFLIGHT_PREFIXES), 'task %r ran before the failure' % task['task']['name']
        assert not any(result.get('changed') for result in results(task))
    for result in results(failed[0]):
        for fragment in fragments:
            assert fragment in result.get('msg', ''), result.get('msg')
    # A secret in the input never reaches the output or the log.
    for secret in SECRETS:
        assert secret not in output
        assert secret not in log


# The worker role's cases (CASES and COMPOSE_CASES) and Flower's run in
# batches: one ansible-playbook run per batch, a host per case with its
# variables as host variables. The role's checks run per host, each host
# fails on its own and the others go on. Each single run pays Ansible's
# start, about 3 s of CPU: `make input` takes about half the time. The
# snapshot of the host is taken around the whole run, so a case that changed
# the host fails every case of its batch (the failure names the paths).
# Beat's cases run one by one (test_single_runs.py): its checks count the
# play's hosts.
WORKER_CASES = dict(CASES, **COMPOSE_CASES)
assert len(WORKER_CASES) == len(CASES) + len(COMPOSE_CASES), 'a case name is used twice'
FLOWER_CASES = {case: (variables, fragments) for case, (playbook, hosts, variables, fragments) in ROLE_CASES.items()
                if playbook == 'playbook_flower.yml' and hosts == 'localhost,'}
# (playbook, cases) of each batch.
BATCHES = {
    'worker': ('playbook.yml', sorted(WORKER_CASES)),
    'flower': ('playbook_flower.yml', sorted(FLOWER_CASES)),
}
BATCH_OF = {case: name for name, (_playbook, cases) in BATCHES.items() for case in cases}
BATCH_CASES = dict(WORKER_CASES, **FLOWER_CASES)


@functools.lru_cache(maxsize=None)
def run_batch(name):
    playbook, cases = BATCHES[name]
    directory = tempfile.mkdtemp(prefix='celeryops-input-')
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    projects = os.path.join(directory, 'projects')
    inventory, hosts = {}, {}
    for index, case in enumerate(cases):
        if case in AFTER_ENGINE_CHECK and not compose_runs_here():
            continue
        host = 'case%02d' % index
        variables = dict(BATCH_CASES[case][0], ansible_connection='local', ansible_python_interpreter=sys.executable)
        if variables.get('celery_platform') == 'compose':
            variables['celery_compose_project_dir'] = os.path.join(projects, host)
        inventory[host] = variables
        hosts[case] = host
    with open(os.path.join(directory, 'inventory.json'), 'w') as handle:
        json.dump({'all': {'hosts': inventory}}, handle)
    log = os.path.join(directory, 'ansible.log')
    before = host_state(projects)
    proc = subprocess.run(['ansible-playbook', '-v', '-f', '8', '-i', os.path.join(directory, 'inventory.json'),
                           os.path.join(HERE, playbook)],
                          capture_output=True, text=True, env=ansible_env(log), timeout=600, check=False)
    try:
        assert_host_unchanged(before, host_state(projects))
        changed = None
    except AssertionError as error:
        changed = str(error)
    with open(log) as handle:
        log_text = handle.read()
    report = json.loads(proc.stdout[proc.stdout.index('{'):]) if '{' in proc.stdout else None
    return {'hosts': hosts, 'report': report, 'output': proc.stdout + proc.stderr, 'log': log_text,
            'changed': changed}


def check_batch_case(case):
    batch = run_batch(BATCH_OF[case])
    assert batch['report'] is not None, batch['output'][-3000:]
    assert batch['changed'] is None, batch['changed']
    host = batch['hosts'][case]
    assert batch['report']['stats'][host]['failures'] > 0, 'the role accepted bad input'
    check_report(batch['report'], BATCH_CASES[case][1], batch['output'], batch['log'], host)


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_input_fails_in_preflight(case):
    check_batch_case(case)


@pytest.mark.parametrize('case', sorted(FLOWER_CASES))
def test_bad_flower_input_fails_in_preflight(case):
    check_batch_case(case)


@pytest.mark.parametrize('case', sorted(COMPOSE_CASES))
def test_bad_compose_input_fails_in_preflight(case, missing_tool):
    if case in AFTER_ENGINE_CHECK and not compose_runs_here():
        missing_tool('`docker compose version` fails on this machine; the shared compose checks stop first')
    check_batch_case(case)
