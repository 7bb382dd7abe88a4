#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_worker_plan
short_description: Work out Celery worker pools, concurrency and limits from resources and workload
version_added: 0.1.0
description:
  - Plans every worker group of a Celery app for one host (or one pod/container) from the usable
    resources and a description of the workload. Changes nothing on the target.
  - B(Resources.) Unless given, detected on the target. Usable CPUs are the minimum of the CPUs in the
    process's affinity mask and the cgroup CPU quota (cgroup v2 C(cpu.max), v1 C(cpu.cfs_quota_us) /
    C(cpu.cfs_period_us)). Memory is the minimum of C(MemTotal) and the cgroup memory limit (v2
    C(memory.max), v1 C(memory.limit_in_bytes)). Limits of the process's own cgroup
    (from C(/proc/self/cgroup)) and of its ancestors count; inside a container the mount root is used.
    Celery's own default concurrency is the host's CPU count (C(os.cpu_count)), which sees neither affinity nor quotas.
  - B(Memory model.) A worker process takes 80 MB; a prefork child 60 MB more; a running task its
    O(groups[].task_memory_mb). prefork instance = 80 + concurrency x (60 + task);
    threads/gevent/eventlet = 80 + concurrency x task; solo = 80 + task. Workers get O(memory_mb) minus
    O(reserved_memory_mb).
  - B(CPU split.) Groups of kind C(cpu) and C(mixed) share the usable CPUs by need, rate x (CPU time of a
    task + 3 ms of Celery's own per-task work) x 1.5; io groups with a known rate take rate x 3 ms x 1.5.
    A cpu or mixed group without a rate needs all it can get; an io group without one is not counted
    (it is assumed light). Needs below an equal share are met, the rest is shared
    equally (water filling); when every need is known and they exceed the CPUs, each gets the same
    fraction of its need. The 3 ms was measured with 20 ms tasks on 2 cores (prefork C(-c 2) 88 tasks/s,
    threads C(-c 64) 297 tasks/s), so one threads-pool process tops out near 333 tasks/s.
  - B(Kind cpu.) Pool prefork, one instance, one process per CPU of the group's share (rounded down, at
    least 1), fewer when the rate needs fewer (rate x duration x 1.5). solo gives one instance per process.
  - B(Kind io.) Pool threads. With a rate, Little's law, rate x duration x 1.5 threads in all, over
    rate x 3 ms x 1.5 instances (rounded up, so that each GIL-bound process stays 2/3 busy) and enough
    instances to keep each under O(max_concurrency). Without a rate, one instance with
    1.5 x duration / 3 ms threads, enough for one process to reach its ~333 tasks/s ceiling.
  - B(Kind mixed.) A task waits W and computes C per task, given by O(groups[].cpu_time_s) (C, beside
    O(groups[].avg_duration_s)) or O(groups[].io_share); C includes Celery's 3 ms. Pool threads with one
    instance per CPU (each GIL gives its process a core, as a prefork child would, without the round trip to
    a parent per task) and 3 x (1 + W/C) threads each (Goetz's formula, tripled, as the waits are uneven and the
    consumer needs the GIL too). C(make bench) measured that shape best or within noise of the best across
    5 % to 100 % CPU with 5 ms and 50 ms tasks. With no CPU share given, the threads are sized for 10 % CPU,
    the shape that held up across shares there. A rate caps it by Little's law. O(groups[].pool) prefork
    gives 2 x CPUs x (1 + W/C) processes.
  - B(Limits.) Concurrency is at most O(max_concurrency). When the groups do not fit the memory, the
    concurrency the plan chose (not one fixed by a group) is lowered, memory shared in proportion to the
    excess each group asked for; when even concurrency 1 does not fit, or a fixed value does not, the
    module fails unless O(allow_overcommit). A single task that does not fit always fails.
  - B(Prefetch multiplier.) 1 for tasks of 1 s or more (a reserved message would wait a whole task while
    other workers may be idle); else Celery's default 4, lowered to max_wait_s / duration when given.
  - B(Recycling.) prefork only (the other pools ignore these options). C(max_tasks_per_child) is 1000,
    or 600 s / duration if larger. C(max_memory_per_child) (KiB, compared by billiard with the child's
    peak RSS, which includes the pages shared with the parent) is (80 + 1.5 x task) MB.
  - B(Stop timeout.) time limit + 30 s; without one, max(60, 3 x duration + 30) s.
  - B(Per instance.) C(memory_limit_mb) (systemd C(MemoryMax), Compose and k8s memory limit) is 1.25 x the
    expected memory (C(memory_request_mb)), for prefork at least room for every child at its recycle
    threshold, at most the available memory. C(cpu_request) is the group's CPU share per instance and
    C(cpu_limit) (systemd C(CPUQuota), Compose C(cpus), k8s CPU limit) the same, a threads-like instance
    capped at no less than one core.
  - B(Names.) Groups take and return the keys of the roles' C(celery_worker_groups) (C(time_limit),
    C(stop_timeout), C(memory_limit_mb)), so a plan can be laid over a group as it is.
    C(autoscale_queue_length), the queue length per replica for HPA/KEDA, is
    concurrency x max(1, (max_wait_s - prefetch x duration) / duration) with O(groups[].max_wait_s),
    else concurrency x prefetch.
author:
  - celeryops.deploy developers (@celeryops)
attributes:
  check_mode:
    support: full
    description: The module only reads the target; check mode returns the same plan.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Detection reads C(/proc) and C(/sys/fs/cgroup) (Linux); elsewhere give O(cpus) and O(memory_mb).
options:
  cpus:
    description:
      - Usable CPUs for the workers. Detected on the target when left out.
    type: float
  memory_mb:
    description:
      - Memory in MB (MiB) for the workers and the rest of the host. Detected when left out.
    type: int
  reserved_memory_mb:
    description:
      - Memory kept for the OS and other services. A container limited by a cgroup holds only the
        worker, so a small value fits there.
    type: int
    default: 512
  max_concurrency:
    description:
      - Highest concurrency the plan gives one instance (a group's fixed value is only warned about).
    type: int
    default: 256
  allow_overcommit:
    description:
      - Plan groups that together need more memory than available (with a warning) instead of
        failing or lowering their concurrency.
    type: bool
    default: false
  groups:
    description:
      - The worker groups (one per kind of work / set of queues).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name, unique.
        type: str
        required: true
      kind:
        description:
          - C(cpu) computes, C(io) waits on the network or disk, C(mixed) does both (see O(groups[].io_share)).
        type: str
        required: true
        choices: [cpu, io, mixed]
      task_memory_mb:
        description: Memory one running task needs on top of the worker process, in MB.
        type: int
        required: true
      avg_duration_s:
        description: Average task duration in seconds.
        type: float
        required: true
      rate_per_s:
        description: Expected tasks per second at peak. Unknown when left out.
        type: float
      max_wait_s:
        description: Acceptable time a task waits in the queue, in seconds; sets prefetch and autoscaling.
        type: float
      io_share:
        description:
          - For kind C(mixed), the share of a task's time spent waiting, from 0 to below 1 (or give O(groups[].cpu_time_s)).
        type: float
      cpu_time_s:
        description:
          - For kind C(mixed), the CPU seconds one task uses, beside O(groups[].avg_duration_s) (at most that); the
            C(celeryops.deploy.workload_report) playbook measures it. The waiting share is then
            1 - cpu_time_s / avg_duration_s. Not with O(groups[].io_share).
          - With neither, the plan takes the shape that holds up across CPU shares (see the rules).
        type: float
      pool:
        description: Pool to use instead of the planned one.
        type: str
        choices: [prefork, threads, gevent, eventlet, solo]
      time_limit:
        description: Hard time limit of the tasks, in seconds.
        type: int
        aliases: [time_limit_s]
      soft_time_limit:
        description: Soft time limit of the tasks, in seconds.
        type: int
        aliases: [soft_time_limit_s]
      instances:
        description: Number of worker instances (processes, systemd instances or replicas) to use.
        type: int
      concurrency:
        description: Concurrency to use; it wins over the plan but is still checked.
        type: int
notes:
  - Needs C(/proc) (Linux) unless O(cpus) and O(memory_mb) are given.
  - The numbers are estimates; measure the real peak memory and duration of your tasks and feed them back.
seealso:
  - name: Celery workers guide
    description: Concurrency, prefetch limits, time limits and max tasks/memory per child.
    link: https://docs.celeryq.dev/en/stable/userguide/workers.html
"""

EXAMPLES = r"""
- name: Plan the workers from the host's resources
  celeryops.deploy.celery_worker_plan:
    groups:
      - {name: io, kind: io, task_memory_mb: 60, avg_duration_s: 0.2, rate_per_s: 200}
      - {name: reports, kind: cpu, task_memory_mb: 300, avg_duration_s: 20, time_limit: 120}
  register: plan

- name: Plan for a pod of 2 CPUs and 2 GiB, autoscaled to keep the queue wait under 5 s
  celeryops.deploy.celery_worker_plan:
    cpus: 2
    memory_mb: 2048
    reserved_memory_mb: 0
    groups:
      - {name: scrape, kind: mixed, io_share: 0.8, task_memory_mb: 40, avg_duration_s: 1.5, max_wait_s: 5}
  register: pod_plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ plan.summary }}"
"""

RETURN = r"""
resources:
  description: The resources planned for, and where each came from.
  returned: success
  type: dict
  contains:
    cpus:
      description: Usable CPUs.
      type: float
      sample: 1.5
    cpus_source:
      description: C(given), C(affinity), C(cpu_count), C(cgroup v1) or C(cgroup v2).
      type: str
      sample: cgroup v2
    memory_mb:
      description: Memory in MB.
      type: int
      sample: 4096
    memory_source:
      description: C(given), C(meminfo), C(cgroup v1) or C(cgroup v2).
      type: str
      sample: meminfo
    reserved_memory_mb:
      description: Memory kept for the rest of the host.
      type: int
      sample: 512
    available_memory_mb:
      description: Memory for the workers.
      type: int
      sample: 3584
    planned_memory_mb:
      description: Expected memory of all planned instances together.
      type: int
      sample: 3580
groups:
  description: The plan of each group, in input order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Group name.
      type: str
    pool:
      description: Celery pool.
      type: str
      sample: threads
    concurrency:
      description: C(--concurrency) of each instance.
      type: int
      sample: 60
    instances:
      description: Worker instances (systemd instances) on the host.
      type: int
      sample: 1
    prefetch_multiplier:
      description: C(--prefetch-multiplier).
      type: int
      sample: 4
    max_tasks_per_child:
      description: C(--max-tasks-per-child); null unless the pool is prefork.
      type: int
      sample: 1000
    max_memory_per_child:
      description: C(--max-memory-per-child) in KiB; null unless the pool is prefork.
      type: int
      sample: 542720
    stop_timeout:
      description: systemd C(TimeoutStopSec), Compose C(stop_grace_period), k8s C(terminationGracePeriodSeconds).
      type: int
      sample: 90
    memory_limit_mb:
      description: systemd C(MemoryMax) of one instance, in MB; the Compose and Kubernetes memory limit of one replica.
      type: int
      sample: 610
    cpu_request:
      description: CPUs one instance needs (the Kubernetes CPU request).
      type: float
      sample: 1.1
    memory_request_mb:
      description: Memory one instance is expected to use, in MB (the Kubernetes memory request).
      type: int
      sample: 440
    cpu_limit:
      description: CPUs one instance may use (systemd C(CPUQuota) of 100 x this, rounded up; Compose C(cpus) and Kubernetes CPU limit).
      type: float
      sample: 1.1
    autoscale_queue_length:
      description: Queue length per replica above which an autoscaler (HPA/KEDA) adds replicas.
      type: int
      sample: 240
    capacity_per_s:
      description: Estimated tasks per second the group can run (slots / duration, and CPU).
      type: float
      sample: 300.0
    summary:
      description: One line about the group.
      type: str
      sample: "io: threads x 60, 1 instance, prefetch 4 (Little's law: 200/s x 0.2 s x 1.5 = 60)"
    reasons:
      description: Why each value was chosen.
      type: list
      elements: str
    warnings:
      description: Problems with this group's plan (also shown as task warnings).
      type: list
      elements: str
summary:
  description: The one-line summary of every group.
  returned: success
  type: list
  elements: str
  sample: ["io: threads x 60, 1 instance, prefetch 4 (Little's law: 200/s x 0.2 s x 1.5 = 60)"]
plan_warnings:
  description:
    - Warnings about the host as a whole (CPU overload, memory overcommit). Not named C(warnings),
      which Ansible reserves; they are also shown as task warnings.
  returned: success
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_plan import PlanError, make_plan
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_resources import (
    ResourceError,
    detect_resources,
)

GROUP_OPTIONS = dict(
    name=dict(type='str', required=True),
    kind=dict(type='str', required=True, choices=['cpu', 'io', 'mixed']),
    task_memory_mb=dict(type='int', required=True),
    avg_duration_s=dict(type='float', required=True),
    rate_per_s=dict(type='float'),
    max_wait_s=dict(type='float'),
    io_share=dict(type='float'),
    cpu_time_s=dict(type='float'),
    pool=dict(type='str', choices=['prefork', 'threads', 'gevent', 'eventlet', 'solo']),
    # The role's names; the _s names of 0.3.0 and before still work.
    time_limit=dict(type='int', aliases=['time_limit_s']),
    soft_time_limit=dict(type='int', aliases=['soft_time_limit_s']),
    instances=dict(type='int'),
    concurrency=dict(type='int'),
)

ARGUMENT_SPEC = dict(
    cpus=dict(type='float'),
    memory_mb=dict(type='int'),
    reserved_memory_mb=dict(type='int', default=512),
    max_concurrency=dict(type='int', default=256),
    allow_overcommit=dict(type='bool', default=False),
    groups=dict(type='list', elements='dict', required=True, options=GROUP_OPTIONS),
)


def run_module(params, detect=detect_resources):
    """The module's result for ``params``; ``detect`` finds the resources (tests pass a fake).

    Raises PlanError when the workload cannot be planned, ResourceError when the
    resources cannot be detected.
    """
    resources = detect(cpus=params.get('cpus'), memory_mb=params.get('memory_mb'))
    # AnsibleModule leaves an alias beside the option it sets: the plan takes the option.
    aliases = [alias for option in GROUP_OPTIONS.values() for alias in option.get('aliases', [])]
    params = dict(params, groups=[dict((key, value) for key, value in group.items() if key not in aliases)
                                  for group in params['groups']])
    plan = make_plan(params, resources)
    result = dict(changed=False, resources=plan['resources'], groups=plan['groups'], summary=plan['summary'],
                  plan_warnings=plan['warnings'])
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run_module(module.params)
    except PlanError as exc:
        module.fail_json(msg='celery_worker_plan: %s' % exc, errors=exc.errors)
    except ResourceError as exc:
        module.fail_json(msg='celery_worker_plan: %s' % exc, errors=[str(exc)])
    for warning in result['plan_warnings']:
        module.warn(warning)
    for group in result['groups']:
        for warning in group['warnings']:
            module.warn('group %s: %s' % (group['name'], warning))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
