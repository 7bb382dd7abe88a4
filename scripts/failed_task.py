"""The task that failed a Molecule/Ansible run, from its log (scripts/break-checks.sh).

A run can print failures that did not fail it: ignored ones (`...ignoring`
on the next line) and rescued ones (nothing marks them where they happen).
What did fail it shows in the PLAY RECAP: a host counted failed=N stopped at
its last failure, since a failure that is neither ignored nor rescued ends
the host's run (an ignored or rescued one is followed by more of its tasks,
or leaves the host at failed=0). So the answer is, of the hosts the recap
counts as failed, the earliest of their last failures.

Molecule decorates Ansible's lines (colours, a box-drawing prefix) and wraps
long ones, so a TASK line runs on until its closing bracket.

  python scripts/failed_task.py LOG   prints the task's name (empty: none)
"""

import re
import sys

ANSI = re.compile(r'\x1b\[[0-9;]*m')
FAILURE = re.compile(r'^(?:fatal|failed): \[([^\]]+)\]')
RECAP = re.compile(r'^(\S+)\s+:\s+ok=\d+.*\bfailed=(\d+)')


def clean(line):
    line = ANSI.sub('', line.rstrip('\n'))
    return re.sub(r'^ *│ *', '', line)


def failed_task(lines):
    task = ''
    open_task = False
    last = {}   # host -> (line, task) of its last failure
    failed_hosts = set()
    for index, raw in enumerate(lines):
        line = clean(raw)
        if open_task:
            task += ' ' + line.strip()
            if ']' in task:
                task = task.split(']', 1)[0]
                open_task = False
            continue
        if line.startswith('TASK ['):
            task = line[len('TASK ['):]
            if ']' in task:
                task = task.split(']', 1)[0]
            else:
                open_task = True
            continue
        failure = FAILURE.match(line)
        if failure:
            # `[host -> other]`: a task delegated to another host fails its own host.
            last[failure.group(1).split(' -> ')[0]] = (index, task)
            continue
        recap = RECAP.match(line)
        if recap and int(recap.group(2)) > 0:
            failed_hosts.add(recap.group(1))
    ends = sorted(last[host] for host in failed_hosts if host in last)
    return ends[0][1].strip() if ends else ''


def main(argv):
    with open(argv[1], encoding='utf-8', errors='replace') as handle:
        print(failed_task(handle.readlines()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
