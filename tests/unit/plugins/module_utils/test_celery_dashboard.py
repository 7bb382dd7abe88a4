"""dashboards/celeryops-celery.json: the Grafana dashboard the collection ships.

Its variables and panels, that every query selects the app the way the rules
do (the labels of _celery_alerts, the recording rules it defines), that
every query parses (promtool, as recording rules) and that the JSON loads in
Grafana's own dashboard schema (grafana-foundation-sdk) without losing a
field. The compose scenario runs every query on a real Prometheus.
"""

import json
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_alerts as ca

DASHBOARD = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'dashboards', 'celeryops-celery.json')
DATASOURCE = {'type': 'prometheus', 'uid': '${datasource}'}
# The panels the README promises, by title.
PANELS = ['Workers online per group', 'Tasks succeeded and failed per second', 'Task runtime quantiles',
          'Queue length per queue', 'Prefetch wait']


@pytest.fixture(scope='module')
def dashboard():
    with open(DASHBOARD) as handle:
        return json.load(handle)


def queries(dashboard):
    return [target['expr'] for panel in dashboard['panels'] for target in panel['targets']]


def concrete(expr, app='shop'):
    """A query as Grafana sends it for one app (what the scenario runs too)."""
    return expr.replace('$app', app).replace('$__rate_interval', '1m')


def test_variables_and_panels(dashboard):
    variables = dict((item['name'], item) for item in dashboard['templating']['list'])
    assert variables['datasource']['type'] == 'datasource' and variables['datasource']['query'] == 'prometheus'
    assert variables['app']['type'] == 'query' and variables['app']['datasource'] == DATASOURCE
    assert '%s)' % ca.APP_LABEL in variables['app']['query']['query']
    assert [panel['title'] for panel in dashboard['panels']] == PANELS
    ids = [panel['id'] for panel in dashboard['panels']]
    assert len(set(ids)) == len(ids)
    for panel in dashboard['panels']:
        assert panel['datasource'] == DATASOURCE, panel['title']
        assert panel['targets'] and all(target['datasource'] == DATASOURCE for target in panel['targets'])
        refs = [target['refId'] for target in panel['targets']]
        assert len(set(refs)) == len(refs), panel['title']


def test_every_query_selects_the_app_as_the_rules_do(dashboard):
    rules = ca.worker_rules('shop', [{'name': 'io', 'queues': ['io'], 'instances': 1}], {'db': 0})
    records = set(rule['record'] for rule in rules['rules'] if 'record' in rule)
    flower = '%s="$app", %s="flower"' % (ca.APP_LABEL, ca.COMPONENT_LABEL)
    for expr in queries(dashboard):
        recorded = re.findall(r'(celeryops:[a-z_]+)\{', expr)
        if recorded:
            # A recording rule of the roles, which labels its series app=<app>.
            assert set(recorded) <= records, expr
            assert 'app="$app"' in expr, expr
        else:
            assert flower in expr, expr


def test_every_query_parses(dashboard, promtool, tmp_path):
    rules = {'groups': [{'name': 'dashboard', 'rules': [
        {'record': 'dashboard:panel_%d' % index, 'expr': concrete(expr)}
        for index, expr in enumerate(queries(dashboard))]}]}
    path = tmp_path / 'dashboard.rules.yml'
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, 'check', 'rules', str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any('$' in concrete(expr) for expr in queries(dashboard))


def subset(ours, theirs, path='$'):
    """The paths of ``ours`` that ``theirs`` lacks or holds otherwise."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [path]
        return [miss for key, value in ours.items()
                for miss in (subset(value, theirs[key], '%s.%s' % (path, key)) if key in theirs
                             else ['%s.%s' % (path, key)])]
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [path]
        return [miss for index, (mine, loaded) in enumerate(zip(ours, theirs))
                for miss in subset(mine, loaded, '%s[%d]' % (path, index))]
    return [] if ours == theirs else [path]


def test_the_json_loads_in_grafanas_dashboard_schema(dashboard):
    try:
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.cog.plugins import register_default_plugins
        from grafana_foundation_sdk.models.dashboard import Dashboard
    except ImportError:
        pytest.fail('grafana-foundation-sdk is not installed (requirements-dev.txt: make setup)')
    register_default_plugins()
    loaded = json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))
    # A field the schema does not know is dropped on the way: none may be.
    assert subset(dashboard, loaded) == []
    # And the check sees one.
    assert subset(dict(dashboard, graphTooltipp=1), json.loads(json.dumps(
        Dashboard.from_json(dict(dashboard, graphTooltipp=1)), cls=JSONEncoder))) == ['$.graphTooltipp']
