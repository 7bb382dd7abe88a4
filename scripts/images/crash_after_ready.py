"""A release that passes its health check once, then crashes (test image only).

Installed with a .pth line into the demo image's virtualenv to make
celeryops/demo-app:flaky (scripts/build-app-image.sh), for the Compose
release test: the first time the ready check (celeryops-probe.py ... ready)
passes in a container, a detached process kills the container's launcher
CRASH_AFTER seconds later. A rollout that trusts one passing check keeps
this release; one that checks again after its settle time (3 s by default)
sees the crash. Delays are chosen so that either outcome is certain: the
rollout's checks come about a second apart, the crash 2 s after the first pass.
"""

import os
import subprocess
import sys

CRASH_AFTER = 2.0
MARK = '/tmp/celeryops-flaky-passed'
LAUNCHER = b'launcher.py'


def _launchers():
    """PIDs of the container's Celery launcher (its command line names it)."""
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    if LAUNCHER in handle.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def _crash_later():
    try:
        fd = os.open(MARK, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return  # not the first pass in this container
    os.close(fd)
    kill = 'import os, time; time.sleep(%s); [os.kill(p, 9) for p in %r]' % (CRASH_AFTER, _launchers())
    subprocess.Popen([sys.executable, '-c', kill], start_new_session=True,  # noqa: S603 (a fixed command)
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def install():
    """Wrap sys.exit: the probe ends with sys.exit(main()), 0 when the check passed."""
    original = sys.exit

    def exit_(code=None):
        if code in (0, None) and sys.argv and sys.argv[0].endswith('probe.py') and 'ready' in sys.argv[1:]:
            _crash_later()
        original(code)

    sys.exit = exit_
