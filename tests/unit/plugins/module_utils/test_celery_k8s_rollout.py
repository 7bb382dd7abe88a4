"""When the apply path calls a Deployment's rollout done: only once the
controller observed the new generation (a stale NewReplicaSetAvailable from
the previous rollout must not pass), every replica updated, none old left,
all available; failed on ProgressDeadlineExceeded."""

import copy

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s_rollout import rollout_status

# What the API returns right after `apply` changed the pod template: the
# generation moved on, the status is still the previous rollout's.
STALE = {
    'metadata': {'name': 'shop-worker-io', 'generation': 4},
    'spec': {'replicas': 2},
    'status': {
        'observedGeneration': 3, 'replicas': 2, 'updatedReplicas': 2, 'readyReplicas': 2, 'availableReplicas': 2,
        'conditions': [
            {'type': 'Available', 'status': 'True', 'reason': 'MinimumReplicasAvailable'},
            {'type': 'Progressing', 'status': 'True', 'reason': 'NewReplicaSetAvailable'},
        ],
    },
}


def observed(**status):
    """STALE once the controller has seen generation 4, with these status fields."""
    doc = copy.deepcopy(STALE)
    doc['status']['observedGeneration'] = 4
    doc['status'].update(status)
    return doc


def test_a_stale_status_is_not_done_though_progressing_says_new_replica_set_available():
    result = rollout_status(STALE)
    assert result['state'] == 'waiting'
    assert 'observe generation 4' in result['message'] and 'seen 3' in result['message']


def test_done_once_observed_and_every_replica_updated_and_available():
    assert rollout_status(observed()) == {'state': 'done', 'message': 'Deployment shop-worker-io successfully rolled out'}


@pytest.mark.parametrize('status, said', [
    ({'updatedReplicas': 1, 'conditions': [{'type': 'Progressing', 'status': 'True', 'reason': 'ReplicaSetUpdated'}]},
     '1 of 2 new replicas updated'),
    # maxSurge: the new pods run, an old one is still terminating
    ({'replicas': 3}, '1 old replicas pending termination'),
    ({'availableReplicas': 1}, '1 of 2 updated replicas available'),
])
def test_waiting_while_the_new_pods_are_not_all_there(status, said):
    result = rollout_status(observed(**status))
    assert result['state'] == 'waiting'
    assert said in result['message']


def test_failed_on_the_progress_deadline():
    doc = observed(updatedReplicas=1, availableReplicas=1, conditions=[
        {'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
         'message': 'ReplicaSet "shop-worker-io-5d9c" has timed out progressing.'}])
    result = rollout_status(doc)
    assert result['state'] == 'failed'
    assert 'progress deadline' in result['message'] and 'timed out progressing' in result['message']


def test_a_deployment_not_there_yet_is_waited_for():
    assert rollout_status({})['state'] == 'waiting'
    assert rollout_status(None)['state'] == 'waiting'


def test_a_status_with_no_fields_yet_is_waiting_not_done():
    doc = {'metadata': {'name': 'shop-beat', 'generation': 1}, 'spec': {'replicas': 1}, 'status': {}}
    assert rollout_status(doc)['state'] == 'waiting'
