"""Print, as JSON, the environment of the Celery main process of this container.

Python running the launcher (workers, beat) or celery (Flower), not
docker-init, whose arguments name them too; the lowest such PID is Celery's
main process, not a prefork child.
"""
import glob
import json
import os

argvs = dict((int(path.split('/')[2]), open(path, 'rb').read().split(b'\0'))
             for path in glob.glob('/proc/[0-9]*/cmdline'))
pids = sorted(pid for pid, argv in argvs.items()
              if b'python' in argv[0] and len(argv) > 1 and pid != os.getpid()
              and (argv[1] == b'/run/celeryops/launcher.py' or argv[1].endswith(b'/celery')))
with open('/proc/%d/environ' % pids[0], 'rb') as handle:
    print(json.dumps([entry.decode() for entry in handle.read().split(b'\0') if entry]))
