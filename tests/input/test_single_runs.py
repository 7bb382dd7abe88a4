"""The cases that run the roles one ansible-playbook run each: beat's bad
input (its checks count the play's hosts, so its cases cannot share a run),
the status playbook's and celery_common's, and the good input in check mode;
then a check of the harness itself. The harness and the batched cases are in
test_bad_input.py; `make input` gives each file its own pytest-xdist worker
(--dist loadfile): the batches there and these single runs here take about
as long.
"""

import json

import pytest

from test_bad_input import (BROKER_PASSWORD, FLOWER_CASES, GOOD, ROLE_CASES, SECRETS,
                            assert_host_unchanged, check_fails_in_preflight, compose_runs_here, compose_with,
                            host_state, run_role)


@pytest.mark.parametrize('case', sorted(set(ROLE_CASES) - set(FLOWER_CASES)))
def test_bad_beat_and_other_input_fails_in_preflight(case, tmp_path):
    playbook, hosts, variables, fragments = ROLE_CASES[case]
    check_fails_in_preflight(run_role(variables, tmp_path, playbook, hosts), fragments, tmp_path)


def test_good_input_passes_preflight(tmp_path):
    """The same harness accepts the good variables: it fails only later, on
    this machine's missing virtualenv (check mode), never in a check."""
    proc = run_role(GOOD, tmp_path, check=True)
    report = json.loads(proc.stdout)
    tasks = [task for play in report['plays'] for task in play['tasks']]
    names = [task['task']['name'].split(' : ')[-1] for task in tasks]
    assert 'Check celery_worker_groups' in names
    assert 'Install the app and its shared files' in names, names
    failed = [task['task']['name'] for task in tasks if task['hosts'].get('localhost', {}).get('failed')]
    assert not any(name.split(' : ')[-1].startswith('Check celery_') for name in failed), failed


def test_good_compose_input_passes_preflight(tmp_path, missing_tool):
    """The compose variables pass every check, the Docker Compose v2 one
    included, and the whole check run goes through: the secrets files and the
    Compose files are rendered (the fragment filter runs on the real role
    variables), nothing is written, and as the project directory does not
    exist, `docker compose up` is never run."""
    if not compose_runs_here():
        missing_tool('`docker compose version` fails on this machine')
    variables = compose_with(celery_compose_broker_enabled=True, celery_compose_broker_password=BROKER_PASSWORD,
                             celery_broker_url='redis://:%s@broker:6379/0' % BROKER_PASSWORD)
    variables['celery_worker_groups'][1].update(cpu_limit=1.5, memory_limit_mb=400)
    proc = run_role(variables, tmp_path, check=True)
    report = json.loads(proc.stdout)
    tasks = [task for play in report['plays'] for task in play['tasks']]
    names = [task['task']['name'].split(' : ')[-1] for task in tasks]
    for name in ('Check celery_image', 'Check the container user', 'Check the all-in-one broker settings',
                 'Require Docker Compose v2', 'Check celery_worker_groups', 'Install the app and its shared files'):
        assert name in names, names
    failed = [task['task']['name'] for task in tasks if task['hosts'].get('localhost', {}).get('failed')]
    assert proc.returncode == 0 and not failed, failed
    results = [(name, task['hosts'].get('localhost', {})) for name, task in zip(names, tasks)]
    assert any(name == 'Write the services of role worker' and result.get('changed') for name, result in results)
    compose_runs = [result for _name, result in results
                    if result.get('action') == 'community.docker.docker_compose_v2']
    assert compose_runs and all(result.get('skipped') for result in compose_runs)
    commands = [result.get('cmd') for _name, result in results
                if result.get('action') in ('ansible.builtin.command', 'ansible.builtin.shell')]
    assert commands == [['docker', 'compose', 'version', '--short']], commands
    assert not (tmp_path / 'project').exists()
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr
        assert secret not in (tmp_path / 'ansible.log').read_text()


def test_the_snapshot_sees_a_change(tmp_path):
    """The host comparison is not blind: a file added, or one rewritten with
    the same size, shows."""
    project = tmp_path / 'project'
    project.mkdir()
    (project / 'compose.worker.yml').write_text('a: 1\n')
    before = host_state(str(project))
    (project / 'compose.worker.yml').write_text('a: 2\n')
    with pytest.raises(AssertionError, match='compose.worker.yml'):
        assert_host_unchanged(before, host_state(str(project)))
    (project / 'secrets').mkdir()
    with pytest.raises(AssertionError, match='secrets'):
        assert_host_unchanged(before, host_state(str(project)))
