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


# --- the heartbeat file: ready/alive without Celery ----------------------------

def write_heartbeat(path, age=0.0, **record):
    now = time.time()
    base = {'kind': 'worker', 'state': 'consuming', 'time': now - age, 'tick': now - age, 'alive': True, 'pid': 1}
    base.update(record)
    path.write_text(json.dumps(base))


@pytest.mark.parametrize('record, age, ready', [
    ({}, 0.0, 0),                                   # consuming, fresh
    ({'state': 'running', 'kind': 'beat'}, 1.0, 0),  # beat on schedule
    ({'alive': False}, 0.0, 1),                     # the loop stopped turning
    ({'state': 'reconnecting'}, 0.0, 1),            # alive, but not consuming
    ({'state': 'starting', 'alive': False}, 0.0, 1),
    ({}, 30.0, 1),                                  # the process froze: stale file
])
def test_probe_ready_reads_the_heartbeat(probe, tmp_path, monkeypatch, record, age, ready):
    path = tmp_path / 'hb.json'
    write_heartbeat(path, age, **record)
    monkeypatch.setenv('CELERYOPS_HEARTBEAT_FILE', str(path))
    assert probe.main(['ready']) == ready


def test_probe_ready_without_a_file_is_not_ready(probe, tmp_path, monkeypatch):
    monkeypatch.setenv('CELERYOPS_HEARTBEAT_FILE', str(tmp_path / 'missing.json'))
    assert probe.main(['ready']) == 1


@pytest.fixture
def no_celery(tmp_path):
    """A `celery` package that fails when imported: proof a check never imports Celery."""
    fake = tmp_path / 'fake'
    (fake / 'celery').mkdir(parents=True)
    (fake / 'celery' / '__init__.py').write_text('raise SystemExit("celery was imported")\n')
    return str(fake)


@pytest.mark.parametrize('state, check, code', [
    ('consuming', 'ready', 0), ('consuming', 'alive', 0), ('reconnecting', 'alive', 0), ('reconnecting', 'ready', 1),
])
def test_fresh_heartbeat_checks_never_import_celery(tmp_path, no_celery, state, check, code):
    path = tmp_path / 'hb.json'
    write_heartbeat(path, state=state)
    env = dict(os.environ, PYTHONPATH=no_celery, CELERYOPS_HEARTBEAT_FILE=str(path))
    proc = subprocess.run([sys.executable, PROBE, '--app', 'nosuchapp', check, 'io'], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == code, proc.stderr
    assert 'celery was imported' not in proc.stderr


def test_stale_heartbeat_liveness_asks_celery(tmp_path, no_celery):
    path = tmp_path / 'hb.json'
    write_heartbeat(path, age=60.0)
    env = dict(os.environ, PYTHONPATH=no_celery, CELERYOPS_HEARTBEAT_FILE=str(path))
    proc = subprocess.run([sys.executable, PROBE, '--app', 'nosuchapp', 'alive', 'io'], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert 'celery was imported' in proc.stderr + proc.stdout


@pytest.mark.parametrize('record', [
    {'alive': True, 'kind': 'worker', 'next_tick': None, 'pid': 12, 'state': 'consuming', 'tick': 1.25,
     'time': 1733.5},
    {'alive': False, 'kind': 'beat', 'state': 'running', 'time': 1e9},
    {'nested': [1, {'a': 'b, c'}], 'state': 'x: y'},   # not the launcher's shape: json reads it
])
def test_probe_reads_the_launchers_record_without_json(probe, record):
    assert probe.parse_record(json.dumps(record, sort_keys=True)) == record


def test_probe_ready_imports_little(tmp_path):
    """The check runs every few seconds in every container: no json, socket,
    signal or argparse on its path (each costs CPU at start)."""
    path = tmp_path / 'hb.json'
    write_heartbeat(path)
    code = ('import runpy, sys; sys.argv = ["probe", "ready"]\n'
            'try:\n    runpy.run_path(%r, run_name="__main__")\n'
            'except SystemExit as exit:\n'
            '    print(exit.code, sorted(m for m in ("json", "socket", "signal", "argparse") if m in sys.modules))\n'
            % PROBE)
    proc = subprocess.run([sys.executable, '-S', '-c', code], env=dict(os.environ, CELERYOPS_HEARTBEAT_FILE=str(path)),
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.stdout.split(None, 1) == ['0', '[]\n'], proc.stdout + proc.stderr
