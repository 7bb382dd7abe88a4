"""ExecStart= quoting of literal arguments."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_exec import exec_arg, exec_args, launcher_exec_start


@pytest.mark.parametrize('arg, expected', [
    ('worker', 'worker'),
    ('--queues=io,cpu', '--queues=io,cpu'),
    ('100%', '100%%'),
    ('$HOME', '$$HOME'),
    ('a b', '"a b"'),
    ('say "hi"', '"say \\"hi\\""'),
    ('back\\slash', '"back\\\\slash"'),
    (';', '";"'),
    ('', '""'),
    ('%i', '%%i'),
])
def test_exec_arg(arg, expected):
    assert exec_arg(arg) == expected


def test_exec_args_joins():
    assert exec_args(['-A', 'proj.celery:app', 'worker', '--pool=threads']) == '-A proj.celery:app worker --pool=threads'


@pytest.mark.parametrize('arg', ['a\nb', 'a\x00b'])
def test_exec_arg_refuses_line_breaks(arg):
    with pytest.raises(ValueError):
        exec_arg(arg)


def test_exec_arg_refuses_non_strings():
    with pytest.raises(TypeError):
        exec_arg(3)


def test_launcher_exec_start_quotes_the_arguments_not_the_specifiers():
    line = launcher_exec_start('/opt/celery/shop', 'worker-io@%i', ['-A', 'shop.celery:app', 'worker', 'a b', '50%'],
                               ['--hostname=io%i@%H'])
    assert line == ('/opt/celery/shop/instances/worker-io@%i/bin/python /opt/celery/shop/celeryops-celery.py'
                    ' -A shop.celery:app worker "a b" 50%% --hostname=io%i@%H')
    assert launcher_exec_start('/opt/celery/shop', 'beat', ['-A', 'x', 'beat']) == (
        '/opt/celery/shop/instances/beat/bin/python /opt/celery/shop/celeryops-celery.py -A x beat')
