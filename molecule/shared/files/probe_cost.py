"""CPU time of a health check: runs the command given after `--` --runs
times, one after the other, and prints one JSON document with the CPU
seconds (user + system, of the command and its children, from getrusage)
and the wall time of one run, each the mean over the runs.

  python3 probe_cost.py --runs 5 -- python3 /run/celeryops/probe.py ready
"""

import argparse
import json
import resource
import subprocess
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    codes = [subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                            check=False).returncode for _run in range(args.runs)]
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({'runs': args.runs, 'exit_codes': codes, 'cpu_s': round(cpu / args.runs, 4),
                      'wall_s': round(wall / args.runs, 4)}))


if __name__ == '__main__':
    main()
