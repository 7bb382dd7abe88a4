# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Whether a Deployment's rollout is done, read from the Deployment as the API returns it.

The rule of `kubectl rollout status`: a status says something about the
current spec only once the controller has observed it
(`status.observedGeneration >= metadata.generation`); before that, the
Progressing condition and the replica counts still describe the previous
rollout, whose NewReplicaSetAvailable would pass for this one. Then the
rollout is done when every replica runs the new template
(updatedReplicas == spec.replicas), no old replica is left (replicas ==
updatedReplicas) and every updated one is available; it failed when
Progressing says ProgressDeadlineExceeded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DONE = 'done'
WAITING = 'waiting'
FAILED = 'failed'


def rollout_status(deployment):
    """{'state': done|waiting|failed, 'message': what kubectl rollout status would say}."""
    if not deployment:
        return {'state': WAITING, 'message': 'the Deployment is not there yet'}
    meta = deployment.get('metadata') or {}
    spec = deployment.get('spec') or {}
    status = deployment.get('status') or {}
    name = meta.get('name', '?')
    generation = meta.get('generation', 0)
    observed = status.get('observedGeneration', 0)
    if observed < generation:
        return {'state': WAITING, 'message': 'Deployment %s: waiting for the controller to observe generation %d'
                ' (it has seen %d)' % (name, generation, observed)}
    for condition in status.get('conditions') or []:
        if condition.get('type') == 'Progressing' and condition.get('reason') == 'ProgressDeadlineExceeded':
            return {'state': FAILED, 'message': 'Deployment %s exceeded its progress deadline: %s'
                    % (name, condition.get('message', ''))}
    wanted = spec.get('replicas', 1)
    updated = status.get('updatedReplicas', 0)
    replicas = status.get('replicas', 0)
    available = status.get('availableReplicas', 0)
    if updated < wanted:
        return {'state': WAITING, 'message': 'Deployment %s: %d of %d new replicas updated' % (name, updated, wanted)}
    if replicas > updated:
        return {'state': WAITING, 'message': 'Deployment %s: %d old replicas pending termination'
                % (name, replicas - updated)}
    if available < updated:
        return {'state': WAITING, 'message': 'Deployment %s: %d of %d updated replicas available'
                % (name, available, updated)}
    return {'state': DONE, 'message': 'Deployment %s successfully rolled out' % name}
