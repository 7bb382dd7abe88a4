"""The prometheus-operator objects (celery_k8s_prometheus_operator): each role's
PrometheusRule holds the same rule group as its rules file, Flower's
ServiceMonitor selects Flower's Service and logs in from a Secret; every
object validates strictly against the operator's own CRDs (vendored under
crds/, with their upstream version) and the rules pass promtool."""

import copy
import glob
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_alerts as ca
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s as ck
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_cmd import flower_argv

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_DIR = os.path.join(HERE, 'crds', 'prometheus-operator-0.93.0')
APP = 'shop.celery:app'
SETTINGS = {
    'app_name': 'shop', 'app_module': APP, 'image': 'registry.example.com/shop:1.4.2',
    'image_pull_policy': 'Always', 'image_pull_secrets': [], 'namespace': 'shop-prod',
    'config_name': 'shop-config', 'probe_config_name': 'shop-celeryops', 'secret_name': 'shop-secrets',
    'uid': 10001, 'gid': 10002, 'python': '/venv/bin/python', 'state_dir': '/var/lib/celery', 'probes': {},
    'autoscaling': 'none', 'hpa_cpu_percent': 70, 'service_account': '', 'node_selector': {}, 'tolerations': [],
    'network_policy': True, 'flower_ingress_from': [],
}
GROUPS = [{'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16, 'instances': 3},
          {'name': 'cpu', 'queues': ['cpu', 'celery'], 'concurrency': 2}]
# The options each role passes (roles/<role>/vars/main.yml), as Ansible hands
# them over: numbers may arrive as strings.
OPTIONS = {
    'worker': {'hosts': 1, 'broker_url': 'redis://:pw@redis.shop-prod.svc:6379/2', 'failure_ratio': '0.05',
               'backlog_for_s': '600', 'down_for_s': '60', 'exporter': None},
    'beat': {'tasks': [{'task': 'shop.tasks.tick', 'every_s': 60}], 'missed': '3', 'min_window_s': '300'},
    'flower': {'address': '0.0.0.0', 'port': '5555', 'url_prefix': 'flower', 'host': 'k8s', 'platform': 'kubernetes',
               'down_for_s': '120'},
}
SCRAPE = {'port': 'http', 'url_prefix': 'flower', 'auth_secret': 'shop-flower-scrape'}
DNS_1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


def settings(**changes):
    return dict(copy.deepcopy(SETTINGS), **changes)


def options(component):
    result = copy.deepcopy(OPTIONS[component])
    if component == 'worker':
        result['groups'] = cw.normalize_groups(copy.deepcopy(GROUPS), APP, 'info', default_stop_timeout=300,
                                               stop_margin=30)
    return result


def monitoring(component, scrape=None, **changes):
    return ck.manifests(settings(**changes), 'monitoring', of=component, options=options(component), scrape=scrape)


EXPORTER_SCRAPE = {'component': 'broker-exporter', 'port': 'metrics'}


def every_object():
    return (monitoring('worker') + monitoring('worker', scrape=EXPORTER_SCRAPE) + monitoring('beat')
            + monitoring('flower', scrape=SCRAPE)
            + monitoring('flower', scrape=dict(SCRAPE, auth_secret='', url_prefix=''), prometheus_labels={
                'release': 'kube-prometheus-stack'}))


def one(docs, kind):
    found = [doc for doc in docs if doc['kind'] == kind]
    assert len(found) == 1, [doc['kind'] for doc in docs]
    return found[0]


# --- the operator's CRDs as strict JSON schemas ---------------------------


def _strict(schema):
    """The CRD's openAPIV3Schema as a JSON schema that, like the API server
    (pruning) and `kubectl --validate=strict`, refuses unknown fields."""
    if isinstance(schema, dict):
        schema = dict((key, _strict(value)) for key, value in schema.items())
        if ('properties' in schema and 'additionalProperties' not in schema
                and not schema.get('x-kubernetes-preserve-unknown-fields')):
            schema['additionalProperties'] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def crd_schemas():
    """{(apiVersion, kind): strict schema} of every vendored CRD version."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(CRD_DIR, '*.yaml'))):
        with open(path) as handle:
            crd = yaml.safe_load(handle)
        for version in crd['spec']['versions']:
            key = ('%s/%s' % (crd['spec']['group'], version['name']), crd['spec']['names']['kind'])
            schemas[key] = _strict(version['schema']['openAPIV3Schema'])
    return schemas


@pytest.fixture
def validate(missing_tool):
    try:
        import jsonschema
    except ImportError:
        missing_tool('no jsonschema (pinned in constraints.txt, installed with ansible-lint)')
    schemas = crd_schemas()
    assert set(kind for _version, kind in schemas) == {'PrometheusRule', 'ServiceMonitor'}

    def errors(doc):
        # The CRDs say only `metadata: {type: object}`: the API server checks names and labels.
        found = ['%s: %s' % ('/'.join(str(part) for part in error.absolute_path), error.message)
                 for error in jsonschema.Draft7Validator(schemas[(doc['apiVersion'], doc['kind'])]).iter_errors(doc)]
        meta = doc['metadata']
        if not DNS_1123.match(meta['name']) or len(meta['name']) > 253:
            found.append('metadata/name: %r' % meta['name'])
        if not DNS_1123.match(meta['namespace']):
            found.append('metadata/namespace: %r' % meta['namespace'])
        found.extend('metadata/labels/%s: %r' % item for item in meta['labels'].items()
                     if not ck.LABEL_VALUE_RE.match(str(item[1])))
        return found
    return errors


def test_the_objects_validate_against_the_operators_crds(validate):
    docs = every_object()
    assert sorted(doc['kind'] for doc in docs) == ['PrometheusRule'] * 5 + ['ServiceMonitor'] * 3
    for doc in docs:
        assert validate(doc) == [], (doc['kind'], doc['metadata']['name'])


@pytest.mark.parametrize('path, value, message', [
    (('spec', 'groups', 0, 'rules', 0, 'for'), 'ten minutes', 'does not match'),
    (('spec', 'groups', 0, 'interval_s'), 30, 'Additional properties'),
    (('spec', 'groups', 0, 'rules', 0, 'expr'), None, 'is not valid under any of the given schemas'),
])
def test_the_check_refuses_a_broken_rule(validate, path, value, message):
    """The schemas are strict: a wrong duration, an unknown field, a wrong type fail."""
    doc = copy.deepcopy(monitoring('worker')[0])
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert any(message in error for error in validate(doc)), validate(doc)


@pytest.mark.parametrize('field, value', [('scheme', 'gopher'), ('interval_s', 30), ('port', 5555)])
def test_the_check_refuses_a_broken_monitor(validate, field, value):
    doc = copy.deepcopy(one(monitoring('flower', scrape=SCRAPE), 'ServiceMonitor'))
    doc['spec']['endpoints'][0][field] = value
    assert validate(doc) != []


# --- what they say ---------------------------------------------------------


@pytest.mark.parametrize('component', ['worker', 'beat', 'flower'])
def test_the_rule_holds_the_rules_files_group(component):
    """The PrometheusRule carries exactly the group of the role's rules file (celery_prometheus_dir)."""
    rule = one(monitoring(component), 'PrometheusRule')
    files = ca.files_for(component, dict(options(component), app='shop'))
    assert rule['spec'] == files['celery-shop-%s.rules.yml' % component]
    assert rule['metadata']['name'] == 'shop-%s' % component
    assert rule['metadata']['namespace'] == 'shop-prod'
    assert [doc['kind'] for doc in monitoring(component)] == ['PrometheusRule']


def test_the_rules_inside_pass_promtool(tmp_path, promtool):
    paths = []
    for doc in every_object():
        if doc['kind'] == 'PrometheusRule':
            path = tmp_path / ('%d.rules.yml' % len(paths))
            path.write_text(yaml.safe_dump({'groups': doc['spec']['groups']}))
            paths.append(str(path))
    proc = subprocess.run([promtool, 'check', 'rules'] + paths, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('SUCCESS') == len(paths) == 5


def flower_service(url_prefix='flower'):
    argv = flower_argv(APP, address='0.0.0.0', port=ck.FLOWER_PORT, url_prefix=url_prefix)
    return one(ck.manifests(settings(), 'flower', argv=argv, url_prefix=url_prefix, auth_secret='shop-flower-auth'),
               'Service')


def test_the_monitor_selects_flowers_service_and_labels_its_series():
    monitor = one(monitoring('flower', scrape=SCRAPE), 'ServiceMonitor')
    service = flower_service()
    selector = monitor['spec']['selector']['matchLabels']
    assert selector and all(service['metadata']['labels'].get(key) == value for key, value in selector.items())
    assert monitor['metadata']['namespace'] == service['metadata']['namespace']
    # The series get the labels the rules select by, from the Service.
    assert monitor['spec']['targetLabels'] == ['celeryops_app', 'celeryops_component']
    assert dict((key, service['metadata']['labels'][key]) for key in monitor['spec']['targetLabels']) == \
        ca.target_labels('shop', 'flower')
    assert 'celeryops_component="flower"' in one(monitoring('flower'), 'PrometheusRule')['spec']['groups'][0][
        'rules'][0]['expr']
    # The port by name, the metrics under Flower's URL prefix.
    endpoint, = monitor['spec']['endpoints']
    assert endpoint['port'] == service['spec']['ports'][0]['name'] == 'http'
    assert endpoint['path'] == '/flower/metrics'
    assert endpoint['basicAuth'] == {'username': {'name': 'shop-flower-scrape', 'key': 'username'},
                                     'password': {'name': 'shop-flower-scrape', 'key': 'password'}}


def test_the_monitor_without_prefix_or_login():
    endpoint, = one(monitoring('flower', scrape=dict(SCRAPE, url_prefix='/', auth_secret='')),
                    'ServiceMonitor')['spec']['endpoints']
    assert endpoint['path'] == '/metrics'
    assert 'basicAuth' not in endpoint


def test_prometheus_labels_go_on_the_objects_not_their_selectors():
    docs = monitoring('flower', scrape=SCRAPE, prometheus_labels={'release': 'kube-prometheus-stack'})
    for doc in docs:
        assert doc['metadata']['labels']['release'] == 'kube-prometheus-stack'
        assert doc['metadata']['labels']['app.kubernetes.io/component'] == 'flower'
    assert 'release' not in one(docs, 'ServiceMonitor')['spec']['selector']['matchLabels']
    assert 'release' not in flower_service()['metadata']['labels']


def test_flowers_network_policy_admits_prometheus_beside_its_peers():
    argv = flower_argv(APP, address='0.0.0.0', port=ck.FLOWER_PORT)
    ingress = {'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ingress-nginx'}}}
    prometheus = {'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'monitoring'}}}

    def peers(**changes):
        policy = one(ck.manifests(settings(**changes), 'flower', argv=argv), 'NetworkPolicy')
        return policy['spec']['ingress'][0].get('from')
    assert peers(flower_ingress_from=[ingress], prometheus_from=[prometheus]) == [ingress, prometheus]
    assert peers(flower_ingress_from=[ingress]) == [ingress]
    # No peers given: every peer reaches the port, Prometheus too.
    assert peers(prometheus_from=[prometheus]) is None


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError):
        ck.manifests(settings(), 'monitoring', of='cron', options={})


# --- the broker exporter -----------------------------------------------------

BROKER_PASSWORD = 'exporter-pw-4d1f'
VALIDATE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE)))), '.cache',
                        'k8s-tools', 'bin', 'kubernetes-validate')


def exporter(url='redis://:%s@redis.shop-prod.svc:6379/2' % BROKER_PASSWORD, **changes):
    values = dict(exporter_image='registry.example.com/redis-exporter:1.45.0', **changes)
    return ck.manifests(settings(**values), 'broker_exporter', exporter={'url': url, 'queues': ['io', 'cpu', 'io']})


def test_the_exporter_reads_the_apps_queues_with_the_password_from_the_secret():
    docs = exporter()
    assert [doc['kind'] for doc in docs] == ['Deployment', 'Service', 'NetworkPolicy']
    assert BROKER_PASSWORD not in yaml.safe_dump_all(docs)
    deployment = docs[0]
    assert deployment['metadata']['name'] == 'shop-broker-exporter'
    assert deployment['spec']['replicas'] == 1
    container, = deployment['spec']['template']['spec']['containers']
    assert container['image'] == 'registry.example.com/redis-exporter:1.45.0'
    assert container['command'] == ['/usr/bin/prometheus-redis-exporter']
    assert container['args'] == ['-redis.addr=redis://redis.shop-prod.svc:6379', '-web.listen-address=:9121',
                                 '-check-single-keys=db2=cpu,db2=io']
    # The Redis password as KEDA reads it, from the shared Secret.
    assert container['env'] == [{'name': 'REDIS_PASSWORD', 'valueFrom': {'secretKeyRef': {
        'name': 'shop-secrets', 'key': 'KEDA_BROKER_AUTH'}}}]
    assert container['securityContext']['readOnlyRootFilesystem'] is True
    assert container['readinessProbe']['httpGet'] == container['livenessProbe']['httpGet'] == {
        'path': '/health', 'port': 'metrics'}
    assert deployment['spec']['template']['spec']['securityContext']['runAsNonRoot'] is True


def test_the_exporters_service_carries_the_labels_the_rules_select_by():
    deployment, service, policy = exporter(prometheus_from=[{'podSelector': {'matchLabels': {'app': 'prometheus'}}}])
    assert service['spec']['selector'] == deployment['spec']['selector']['matchLabels']
    assert dict((key, service['metadata']['labels'][key]) for key in ('celeryops_app', 'celeryops_component')) == \
        ca.target_labels('shop', 'broker')
    assert service['spec']['ports'] == [{'name': 'metrics', 'port': 9121, 'targetPort': 'metrics', 'protocol': 'TCP'}]
    # Only its port, and from Prometheus when you name its pods.
    assert policy['spec']['ingress'] == [{'ports': [{'protocol': 'TCP', 'port': 9121}],
                                          'from': [{'podSelector': {'matchLabels': {'app': 'prometheus'}}}]}]
    assert 'from' not in exporter()[2]['spec']['ingress'][0]
    monitor = one(monitoring('worker', scrape=EXPORTER_SCRAPE), 'ServiceMonitor')
    assert monitor['metadata']['name'] == 'shop-broker-exporter'
    assert monitor['spec']['selector']['matchLabels'] == deployment['spec']['selector']['matchLabels']
    assert monitor['spec']['endpoints'] == [{'port': 'metrics', 'path': '/metrics', 'scheme': 'http'}]
    assert monitor['spec']['targetLabels'] == ['celeryops_app', 'celeryops_component']
    backlog = [rule for rule in one(monitoring('worker'), 'PrometheusRule')['spec']['groups'][0]['rules']
               if rule.get('record') == 'celeryops:queue_length']
    assert backlog and 'celeryops_component="broker"' in backlog[0]['expr']


def test_the_exporter_of_a_broker_without_a_password_reads_no_secret():
    container, = exporter('redis://redis:6379/0', exporter_command='/redis_exporter')[0]['spec']['template'][
        'spec']['containers']
    assert 'env' not in container
    assert container['command'] == ['/redis_exporter']


def test_the_exporter_validates_against_the_kubernetes_schemas(tmp_path, missing_tool):
    if not os.path.exists(VALIDATE):
        missing_tool('no %s (the k8s tools venv)' % VALIDATE)
    path = tmp_path / 'exporter.yaml'
    path.write_text(yaml.safe_dump_all(exporter(prometheus_from=[{'podSelector': {}}])))
    result = subprocess.run([VALIDATE, '--strict', '-k', '1.33.0', str(path)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0 and 'ERROR' not in result.stdout, result.stdout + result.stderr
    assert result.stdout.count('INFO') == 3, result.stdout


@pytest.mark.parametrize('monitor', [False, True])
def test_removing_the_exporter_names_every_object_it_rendered(monitor):
    """Turned off or removed, the exporter's objects are deleted by kind and name, without a render
    (a RabbitMQ URL could not render one)."""
    names = ck.manifests(settings(), 'broker_exporter', remove=True, monitor=monitor)
    rendered = exporter() + ([one(monitoring('worker', scrape=EXPORTER_SCRAPE), 'ServiceMonitor')] if monitor else [])
    assert names == [{'apiVersion': doc['apiVersion'], 'kind': doc['kind'], 'metadata': {
        'name': doc['metadata']['name'], 'namespace': doc['metadata']['namespace']}} for doc in rendered]
