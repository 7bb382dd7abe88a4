# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Run ``celery`` with Celery settings from the deployment laid over the app's.

celeryops.deploy starts a worker as ``python celeryops-celery.py -A <app>
worker ...`` (instead of ``celery -A <app> worker ...``) when the inventory
sets Celery settings for it (``celery_worker_acks_late``,
``celery_worker_reject_on_worker_lost``, ``celery_worker_settings`` or a
group's ``settings``). They arrive as JSON in ``CELERYOPS_CELERY_SETTINGS``.

Why a launcher: Celery reads no settings from the environment except the
broker and backend URLs, and ``--config``/``CELERY_CONFIG_MODULE`` is ignored
by every app that calls ``config_from_object`` (Django's pattern). So the
launcher imports the app the way ``celery -A`` does, updates its
configuration (settings given before the app is configured take precedence
over its own config source), and then runs Celery's own command line in the
same process: Celery finds the already-imported app, the settings included.
The process is still Celery's main process: signals, exit codes and warm
shutdown are Celery's.

``celeryops-celery.py --check`` only checks the settings against the
installed Celery (the roles run it before changing a unit).
"""

import json
import os
import sys

ENV_NAME = 'CELERYOPS_CELERY_SETTINGS'


def _app_name(argv):
    """The value of -A/--app in ``argv`` (None when absent)."""
    for index, arg in enumerate(argv):
        if arg in ('-A', '--app') and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith('--app='):
            return arg.split('=', 1)[1]
    return None


def _fail(message):
    sys.stderr.write('celeryops-celery: %s\n' % message)
    sys.exit(2)


def _settings(version=''):
    """The settings from the environment; exits 2 on bad JSON or unknown names."""
    try:
        settings = json.loads(os.environ.get(ENV_NAME) or '{}')
    except ValueError as error:
        _fail('%s is not valid JSON: %s' % (ENV_NAME, error))
    if not isinstance(settings, dict):
        _fail('%s must be a JSON object of Celery settings' % ENV_NAME)
    from celery.app.defaults import DEFAULTS
    unknown = sorted(key for key in settings if key not in DEFAULTS)
    if unknown:
        # Celery would accept and ignore them: a typo must not pass.
        _fail('unknown Celery settings: %s%s' % (', '.join(unknown), ' (Celery %s)' % version if version else ''))
    return settings


def main():
    # Python put this script's directory first on sys.path; the helpers next
    # to it must not shadow the app's modules (or Celery's). Celery's own
    # entry point has its bin directory there instead, and imports the app
    # from the working directory.
    if sys.path and os.path.abspath(sys.path[0] or '.') == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    argv = sys.argv[1:]
    if argv == ['--check']:
        # The roles' deploy-time check: the settings against the Celery
        # installed here, before any unit or file changes.
        from celery import __version__
        _settings(__version__)
        sys.stdout.write('celeryops-celery: settings known to Celery %s\n' % __version__)
        return
    sys.argv = ['celery'] + argv
    # Like celery's own entry point: eventlet/gevent must patch the standard
    # library before anything (the app included) imports it.
    from celery import maybe_patch_concurrency
    maybe_patch_concurrency()
    settings = _settings()
    if settings:
        app_name = _app_name(argv)
        if not app_name:
            _fail('no -A/--app in the command line')
        from celery.app.utils import find_app
        find_app(app_name).conf.update(settings)
    from celery.bin.celery import main as celery_main
    sys.exit(celery_main())


if __name__ == '__main__':
    main()
