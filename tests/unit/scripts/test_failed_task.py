"""scripts/failed_task.py: the task that failed a run, not one ignored or rescued before it."""

import importlib.util
import os

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'scripts', 'failed_task.py')
spec = importlib.util.spec_from_file_location('failed_task', SCRIPT)
failed_task = importlib.util.module_from_spec(spec)
spec.loader.exec_module(failed_task)

BAR = '\x1b[2m\u2502\x1b[0m '


def log(*lines):
    return [BAR + line + '\n' for line in lines]


RECAP_FAILED = 'w1                         : ok=9    changed=1    unreachable=0    failed=1    skipped=0    rescued=1    ignored=1'


def test_the_failure_that_ended_the_run_not_an_ignored_or_rescued_one():
    lines = log(
        'PLAY [Checks] ******',
        'TASK [Probe something] ******',
        'fatal: [w1]: FAILED! => {"msg": "expected"}',
        '...ignoring',
        'TASK [A block that rescues] ******',
        'fatal: [w1]: FAILED! => {"msg": "rescued"}',
        'TASK [The rescue] ******',
        'ok: [w1]',
        'TASK [The dropped group\'s instances are stopped and its files and',
        '  links gone] ***',
        'fatal: [w1]: FAILED! => {"msg": "left: demo-worker-cpu@1.service"}',
        'PLAY RECAP ******',
        RECAP_FAILED,
    )
    assert failed_task.failed_task(lines) == "The dropped group's instances are stopped and its files and links gone"


def test_an_ignored_loop_task_and_a_passing_run():
    lines = log(
        'TASK [Loop] ***',
        'failed: [w1] (item=a) => {"msg": "x"}',
        'fatal: [w1]: FAILED! => {"msg": "One or more items failed"}',
        '...ignoring',
        'PLAY RECAP ***',
        'w1                         : ok=9    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=1',
    )
    assert failed_task.failed_task(lines) == ''


def test_the_earliest_of_the_failed_hosts():
    lines = log(
        'TASK [First] ***',
        'fatal: [b1]: FAILED! => {}',
        'TASK [Second] ***',
        'fatal: [w1]: FAILED! => {}',
        'PLAY RECAP ***',
        RECAP_FAILED,
        RECAP_FAILED.replace('w1', 'b1'),
    )
    assert failed_task.failed_task(lines) == 'First'


def test_a_host_rescued_earlier_and_a_delegated_failure():
    lines = log(
        'TASK [Rescued on the beat host] ***',
        'fatal: [b1]: FAILED! => {}',
        'TASK [The rescue] ***',
        'ok: [b1]',
        'TASK [Wait on the standby] ***',
        'fatal: [w1 -> b1]: FAILED! => {"msg": "no takeover"}',
        'PLAY RECAP ***',
        RECAP_FAILED.replace('w1', 'b1').replace('failed=1', 'failed=0'),
        RECAP_FAILED,
    )
    assert failed_task.failed_task(lines) == 'Wait on the standby'


def test_the_failure_message_joined_from_its_wrapped_lines():
    lines = log(
        'TASK [Check that no unit restarted] ***',
        'fatal: [w1]: FAILED! => {"assertion": "a == b",',
        '  "msg": "restarts [\'1\'] -> [\'2\']"}',
        'fatal: [w2]: FAILED! => {"msg": "other host"}',
        '',
        'PLAY RECAP ***',
        RECAP_FAILED,
    )
    assert failed_task.failure(lines) == (
        'Check that no unit restarted',
        'fatal: [w1]: FAILED! => {"assertion": "a == b", "msg": "restarts [\'1\'] -> [\'2\']"}')
    assert failed_task.failure(log('TASK [Fine] ***', 'ok: [w1]')) == ('', '')


def test_the_message_of_ansible_cores_error_block_first():
    lines = log(
        'TASK [Flower loads whole in a browser] ***',
        '[ERROR]: Task failed: Action failed:',
        "  ['/flower/ ended 401',",
        "  'no script was loaded']",
        'Origin: /x/flower_browser.yml:52:3',
        '',
        'fatal: [w1]: FAILED! => {',
        '    "msg": [',
        '       ',
        '  "/flower/ ended 401",',
        'PLAY RECAP ***',
        RECAP_FAILED,
    )
    assert failed_task.failure(lines) == (
        'Flower loads whole in a browser', "[ERROR]: Task failed: Action failed: ['/flower/ ended 401', 'no script was loaded']")
