"""The celery_directories module: creates, fixes, leaves alone, check mode, diffs, refusals."""

import json
import os
import pwd
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.celeryops.deploy.plugins.modules import celery_directories as module

# Another owner than the test's own (root in CI): nobody exists on Debian.
NOBODY = pwd.getpwnam('nobody')


def run_main(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            module.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def attributes(path):
    info = os.stat(path)
    return stat.S_IMODE(info.st_mode), info.st_uid


def test_creates_each_directory_and_missing_parents_then_reports_no_change(tmp_path, capsys):
    base = tmp_path / 'opt' / 'celery' / 'shop'
    state = tmp_path / 'state'
    directories = [{'path': str(base), 'owner': 'root', 'group': 'root', 'mode': '0755'},
                   {'path': str(state), 'owner': str(NOBODY.pw_uid), 'mode': '0750'}]
    code, result = run_main({'directories': directories}, capsys)
    assert code == 0 and result['changed'], result
    assert result['changed_paths'] == [str(tmp_path / 'opt'), str(tmp_path / 'opt' / 'celery'), str(base), str(state)]
    assert attributes(base) == (0o755, 0) and attributes(tmp_path / 'opt') == (0o755, 0)
    if os.geteuid() == 0:
        assert attributes(state) == (0o750, NOBODY.pw_uid)
    code, result = run_main({'directories': directories}, capsys)
    assert code == 0 and not result['changed'] and result['changed_paths'] == [], result


def test_fixes_the_mode_of_an_existing_directory_and_shows_it(tmp_path, capsys):
    config = tmp_path / 'config'
    config.mkdir(mode=0o777)
    os.chmod(config, 0o777)
    code, result = run_main({'directories': [{'path': str(config), 'mode': '0750'}], '_ansible_diff': True}, capsys)
    assert code == 0 and result['changed_paths'] == [str(config)]
    assert attributes(config)[0] == 0o750
    assert result['diff'] == [{'before': {'path': str(config), 'mode': '0777'},
                               'after': {'path': str(config), 'mode': '0750'}}]


def test_check_mode_reports_and_changes_nothing(tmp_path, capsys):
    existing = tmp_path / 'existing'
    existing.mkdir()
    os.chmod(existing, 0o700)
    new = tmp_path / 'new' / 'child'
    code, result = run_main({'directories': [{'path': str(existing), 'mode': '0755'}, {'path': str(new)}],
                             '_ansible_check_mode': True}, capsys)
    assert code == 0 and result['changed_paths'] == [str(existing), str(tmp_path / 'new'), str(new)], result
    assert attributes(existing)[0] == 0o700 and not (tmp_path / 'new').exists()


def test_refuses_a_file_in_the_way_and_a_relative_path(tmp_path, capsys):
    blocker = tmp_path / 'blocker'
    blocker.write_text('x')
    code, result = run_main({'directories': [{'path': str(blocker)}]}, capsys)
    assert code == 1 and 'exists and is not a directory' in result['msg']
    code, result = run_main({'directories': [{'path': 'relative/dir'}]}, capsys)
    assert code == 1 and 'not an absolute path' in result['msg']
