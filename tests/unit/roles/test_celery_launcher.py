"""celeryops-celery.py: the launcher lays the inventory's Celery settings over
the app's own configuration, then runs Celery's command line in the same
process. Run for real with this venv's Celery (no broker: `celery report`
prints the configuration the app ends up with)."""

import json
import os
import subprocess
import sys

import pytest

FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     'roles', 'celery_common', 'files')
LAUNCHER = os.path.join(FILES, 'celeryops-celery.py')

# Two ways apps configure themselves: a config object (Django's pattern, with
# a namespace) and keyword settings. Both set task_acks_late to False.
APPS = {
    'objapp': (
        'from celery import Celery\n'
        'class Config:\n'
        '    CELERY_TASK_ACKS_LATE = False\n'
        '    CELERY_TASK_DEFAULT_QUEUE = "from-the-app"\n'
        'app = Celery("objapp")\n'
        'app.config_from_object(Config, namespace="CELERY")\n'),
    'kwapp': (
        'from celery import Celery\n'
        'app = Celery("kwapp")\n'
        'app.conf.update(task_acks_late=False, task_default_queue="from-the-app")\n'),
}


@pytest.fixture
def app_dir(tmp_path):
    for name, source in APPS.items():
        (tmp_path / ('%s.py' % name)).write_text(source)
    return tmp_path


def launch(app_dir, app, settings, *argv):
    env = dict(os.environ)
    env.pop('CELERYOPS_CELERY_SETTINGS', None)
    if settings is not None:
        env['CELERYOPS_CELERY_SETTINGS'] = settings if isinstance(settings, str) else json.dumps(settings)
    return subprocess.run([sys.executable, LAUNCHER, '-A', app] + list(argv or ['report']), cwd=str(app_dir),
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def report_value(output, name):
    """The value `celery report` prints for one setting (None when absent)."""
    for line in output.splitlines():
        if line.lower().startswith(name.lower() + ':'):
            return line.split(':', 1)[1].strip()
    return None


@pytest.mark.parametrize('app', ['objapp:app', 'kwapp:app', 'kwapp'])
def test_settings_win_over_the_apps_own(app_dir, app):
    proc = launch(app_dir, app, {'task_acks_late': True, 'task_reject_on_worker_lost': True,
                                 'broker_transport_options': {'visibility_timeout': 42}})
    assert proc.returncode == 0, proc.stderr
    assert report_value(proc.stdout, 'task_acks_late') == 'True'
    assert report_value(proc.stdout, 'task_reject_on_worker_lost') == 'True'
    assert "'visibility_timeout': 42" in proc.stdout.split('broker_transport_options:', 1)[1]
    # What the inventory does not set stays the app's.
    assert 'from-the-app' in proc.stdout


@pytest.mark.parametrize('settings', [None, '', '{}'])
def test_without_settings_the_app_is_untouched(app_dir, settings):
    proc = launch(app_dir, 'kwapp:app', settings)
    assert proc.returncode == 0, proc.stderr
    assert report_value(proc.stdout, 'task_acks_late') == 'False'


@pytest.mark.parametrize('settings, message', [
    ({'task_acks_lat': True}, 'unknown Celery settings: task_acks_lat'),
    ('{"task_acks_late": tru', 'CELERYOPS_CELERY_SETTINGS is not valid JSON'),
    ('[1, 2]', 'CELERYOPS_CELERY_SETTINGS must be a JSON object'),
])
def test_bad_settings_stop_before_celery_starts(app_dir, settings, message):
    proc = launch(app_dir, 'kwapp:app', settings)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert 'software ->' not in proc.stdout  # celery report never ran


def test_celery_errors_and_exit_codes_pass_through(app_dir):
    proc = launch(app_dir, 'kwapp:app', {'task_acks_late': True}, 'no-such-command')
    assert proc.returncode == 2
    assert 'No such command' in proc.stderr


def test_a_launcher_named_celery_does_not_shadow_celery(app_dir, tmp_path_factory):
    """Inside containers the launcher sits next to the other helper scripts;
    whatever its name, its directory must not hide Celery or the app."""
    scripts = tmp_path_factory.mktemp('scripts')
    copy = scripts / 'celery.py'
    with open(LAUNCHER) as source:
        copy.write_text(source.read())
    (scripts / 'kwapp.py').write_text('raise SystemExit("the wrong kwapp was imported")\n')
    proc = subprocess.run([sys.executable, str(copy), '-A', 'kwapp:app', 'report'], cwd=str(app_dir),
                          env=dict(os.environ, CELERYOPS_CELERY_SETTINGS='{"task_acks_late": true}'),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert report_value(proc.stdout, 'task_acks_late') == 'True'


@pytest.mark.parametrize('settings, code, output', [
    ({'task_acks_late': True}, 0, 'settings known to Celery 5.'),
    ({'task_acks_lat': True}, 2, 'unknown Celery settings: task_acks_lat (Celery 5.'),
    ('{oops', 2, 'CELERYOPS_CELERY_SETTINGS is not valid JSON'),
])
def test_check_mode_only_checks_the_settings(tmp_path, settings, code, output):
    env = dict(os.environ, CELERYOPS_CELERY_SETTINGS=settings if isinstance(settings, str) else json.dumps(settings))
    proc = subprocess.run([sys.executable, LAUNCHER, '--check'], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == code
    assert output in proc.stdout + proc.stderr


def test_transport_options_join_the_apps_own(app_dir):
    (app_dir / 'optapp.py').write_text(
        'from celery import Celery\n'
        'app = Celery("optapp")\n'
        'app.conf.broker_transport_options = {"max_retries": 7, "visibility_timeout": 10}\n')
    proc = launch(app_dir, 'optapp:app', {'broker_transport_options': {'confirm_publish': True,
                                                                       'visibility_timeout': 42}})
    assert proc.returncode == 0, proc.stderr
    # `celery report` prints the dict on the line after the name.
    options = ' '.join(proc.stdout.split('broker_transport_options:', 1)[1].split('\n', 2)[:2])
    assert "'max_retries': 7" in options and "'confirm_publish': True" in options
    assert "'visibility_timeout': 42" in options


QUORUM = {'task_default_queue_type': 'quorum', 'task_create_missing_queue_type': 'quorum'}


def test_quorum_queues_refuse_an_app_that_lists_classic_queues(app_dir):
    (app_dir / 'qapp.py').write_text(
        'from celery import Celery\n'
        'from kombu import Queue\n'
        'app = Celery("qapp")\n'
        'app.conf.task_queues = [Queue("io"), Queue("cpu", queue_arguments={"x-queue-type": "quorum"}),'
        ' Queue("batch")]\n')
    proc = launch(app_dir, 'qapp:app', QUORUM)
    assert proc.returncode == 2
    assert "celery_broker_queue_type is quorum, but the app's task_queues declare batch, io without" in proc.stderr
    # Classic queues with classic settings are the app's business.
    assert launch(app_dir, 'qapp:app', {'task_acks_late': True}).returncode == 0


def test_quorum_queues_accept_an_app_without_its_own_queues(app_dir):
    proc = launch(app_dir, 'kwapp:app', QUORUM)
    assert proc.returncode == 0, proc.stderr
    assert report_value(proc.stdout, 'task_default_queue_type') == "'quorum'"
