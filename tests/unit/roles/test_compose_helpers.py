"""The files every Compose container mounts: the health-check probe and the
exec shim (roles/celery_common/files). No broker and no container needed."""

import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     'roles', 'celery_common', 'files')
PROBE = os.path.join(FILES, 'celeryops-probe.py')
SHIM = os.path.join(FILES, 'celeryops-exec.sh')
SHIM_SECRETS = ('/run/secrets/celery_env', '/run/secrets/celery_role_env')


@pytest.fixture(scope='module')
def probe():
    spec = importlib.util.spec_from_file_location('celeryops_probe', PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def http_status():
    """A server on 127.0.0.1 answering every GET with the status it is given."""
    servers = []

    def serve(status):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'OK' if status < 400 else b'nope')

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return 'http://127.0.0.1:%d/healthcheck' % server.server_address[1]

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize('status, expected', [(200, 0), (204, 0), (404, 1), (500, 1), (503, 1)])
def test_probe_http_status(probe, http_status, status, expected, capsys):
    assert probe.main(['--app', 'x', 'http', http_status(status)]) == expected
    if expected:
        assert 'HTTPError' in capsys.readouterr().err  # the reason goes to the health log


def test_probe_http_closed_port_is_unhealthy(probe, capsys):
    assert probe.main(['--app', 'x', '--timeout', '2', 'http', 'http://127.0.0.1:%d/healthcheck' % free_port()]) == 1
    assert 'Error' in capsys.readouterr().err


def test_probe_http_server_that_never_answers_times_out(probe):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)  # connections complete in the backlog, nobody answers
    try:
        started = time.monotonic()
        url = 'http://127.0.0.1:%d/healthcheck' % listener.getsockname()[1]
        assert probe.main(['--app', 'x', '--timeout', '0.5', 'http', url]) == 1
        assert time.monotonic() - started < 5
    finally:
        listener.close()


@pytest.mark.parametrize('check', [['broker'], ['ping', 'io']])
def test_probe_app_that_does_not_load_is_unhealthy(probe, check, capsys):
    assert probe.main(['--app', 'celeryops_no_such_app_module'] + check) == 1
    assert capsys.readouterr().err  # a reason, not a traceback


def test_probe_rejects_an_unknown_check(probe):
    with pytest.raises(SystemExit):
        probe.main(['--app', 'x', 'status'])


# --- exec shim ---------------------------------------------------------------
# The shim reads fixed paths under /run/secrets. The test runs a copy in which
# only those two paths point into a temporary directory; nothing on this
# machine's /run is read or written.


@pytest.fixture
def shim(tmp_path):
    text = open(SHIM).read()
    for path in SHIM_SECRETS:
        assert text.count(path) == 1, 'the shim no longer reads %s; update this test' % path
    common, role = tmp_path / 'celery_env', tmp_path / 'celery_role_env'
    copy = tmp_path / 'exec.sh'
    copy.write_text(text.replace(SHIM_SECRETS[0], str(common)).replace(SHIM_SECRETS[1], str(role)))
    return copy, common, role


DUMP_ENV = [sys.executable, '-c', 'import json, os; print(json.dumps({"pid": os.getpid(), "env": dict(os.environ)}))']


def run_shim(copy, command=None):
    proc = subprocess.Popen(['/bin/sh', str(copy)] + (command or DUMP_ENV), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={'PATH': os.environ.get('PATH', '/usr/bin:/bin')})
    out, err = proc.communicate(timeout=30)
    return proc, out, err


def test_shim_exports_both_files_literally_and_execs(shim):
    copy, common, role = shim
    common.write_text('# Shared environment\n\n'
                      'CELERY_BROKER_URL=redis://:p@ss w$rd#1"\\x@broker:6379/0\n'
                      'SHARED=common\n'
                      'QUERY=a=b&c=d\n')
    role.write_text('SHARED=role\nLAST=no newline at the end')
    proc, out, err = run_shim(copy)
    assert proc.returncode == 0, err
    result = json.loads(out)
    env = result['env']
    assert env['CELERY_BROKER_URL'] == 'redis://:p@ss w$rd#1"\\x@broker:6379/0'
    assert env['SHARED'] == 'role'  # the role's file comes last and wins
    assert env['QUERY'] == 'a=b&c=d'
    assert env['LAST'] == 'no newline at the end'
    assert not any(key.startswith('#') for key in env)
    # exec: the command replaces the shell, so Docker's init signals Celery itself.
    assert result['pid'] == proc.pid


def test_shim_runs_without_a_role_file(shim):
    copy, common, _role = shim
    common.write_text('CELERY_BROKER_URL=redis://broker:6379/0\n')
    proc, out, err = run_shim(copy)
    assert proc.returncode == 0, err
    assert json.loads(out)['env']['CELERY_BROKER_URL'] == 'redis://broker:6379/0'


def test_shim_passes_arguments_and_exit_status_through(shim):
    copy, common, _role = shim
    common.write_text('')
    proc, out, _err = run_shim(copy, ['/bin/sh', '-c', 'printf "%s|" "$@"; exit 7', 'sh', 'a b', '$HOME', ''])
    assert proc.returncode == 7
    assert out == 'a b|$HOME||'


def test_shim_stops_on_a_line_that_is_not_a_variable(shim):
    copy, common, _role = shim
    common.write_text('1BAD=x\n')
    proc, out, _err = run_shim(copy, ['/bin/echo', 'started'])
    assert proc.returncode != 0
    assert 'started' not in out
