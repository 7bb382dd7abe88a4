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

  python scripts/failed_task.py LOG         prints the task's name (empty: none)
  python scripts/failed_task.py --why LOG   the name and its failure message, on
                                            one line (scripts/molecule.sh prints
                                            it last, where CI's excerpt shows it)
"""

import re
import sys

ANSI = re.compile(r'\x1b\[[0-9;]*m')
FAILURE = re.compile(r'^(?:fatal|failed): \[([^\]]+)\]')
WHY_CHARS = 1500
RECAP = re.compile(r'^(\S+)\s+:\s+ok=\d+.*\bfailed=(\d+)')


def clean(line):
    line = ANSI.sub('', line.rstrip('\n'))
    return re.sub(r'^ *│ *', '', line)


def _message(lines, start):
    """What the failure at line ``start`` says, on one line: ansible-core's
    ``[ERROR]:`` block before it (the message alone) when the task has one,
    else the failure line and its wrapped continuation."""
    for index in range(start - 1, -1, -1):
        line = clean(lines[index])
        if line.startswith('TASK ['):
            break
        if line.startswith('[ERROR]: '):
            return _joined(lines, index, ('Origin:',))
    return _joined(lines, start, ())


def _joined(lines, start, stops):
    parts = [clean(lines[start])]
    for raw in lines[start + 1:]:
        line = clean(raw).strip()
        if not line or line.startswith(stops) or FAILURE.match(line) or line.startswith(
                ('TASK [', 'PLAY ', '...ignoring', 'ok: [')):
            break
        parts.append(line)
    return ' '.join(parts)


def failure(lines):
    """(task, message) of the failure that failed the run; ('', '') if none."""
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
    if not ends:
        return '', ''
    return ends[0][1].strip(), _message(lines, ends[0][0])


def failed_task(lines):
    return failure(lines)[0]


def main(argv):
    why = argv[1] == '--why'
    with open(argv[-1], encoding='utf-8', errors='replace') as handle:
        task, message = failure(handle.readlines())
    if why:
        # A fail_msg can carry a journal: the start says what failed.
        print(('%s: %s' % (task, message))[:WHY_CHARS] if task else '')
    else:
        print(task)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
