"""molecule/shared/files/flower_browser.py: what it counts as Flower loaded whole in a browser."""

import importlib.util
import json
import os

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'molecule', 'shared', 'files', 'flower_browser.py')
spec = importlib.util.spec_from_file_location('flower_browser', SCRIPT)
browser = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browser)

PAGE = 'http://127.0.0.1:15555/flower/'
OK = ['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 200 OK']  # the challenge, then the login


def whole(**changes):
    requests = dict([(PAGE, OK), (PAGE + 'static/css/flower.css', OK), (PAGE + 'static/js/flower.js', OK),
                     (PAGE + 'workers?json=1', OK),
                     (PAGE + 'static/favicon.ico?v=1', [])], **changes)
    return list(requests.items())


def test_a_page_loaded_whole_with_every_node():
    assert browser.check(whole(), '<td>io@a1</td><td>cpu@b2</td>', ['io@a1', 'cpu@b2'], PAGE) == []


def test_what_fails_it():
    failed = browser.check(whole(**{PAGE + 'static/js/flower.js': ['HTTP/1.1 401 Unauthorized']}), '', ['io@a1'],
                           PAGE)
    assert failed == [PAGE + 'static/js/flower.js ended HTTP/1.1 401 Unauthorized', 'node io@a1 is not on the page']
    assert browser.check(whole(**{PAGE + 'workers?json=1': []}), 'io@a1', ['io@a1'], PAGE) == [
        PAGE + 'workers?json=1 ended without an answer']
    only_page = [(PAGE, OK)]
    assert browser.check(only_page, 'io@a1', ['io@a1'], PAGE) == [
        'no stylesheet was loaded', 'no script was loaded', 'the page fetched no data from Flower']
    assert browser.check([], '', [], PAGE)[0] == 'the page /flower/ was not requested'
    assert browser.check(whole(), '<td>io@a10</td>', ['io@a1'], PAGE) == ['node io@a1 is not on the page']


def test_a_poll_in_flight_when_the_browser_stopped():
    poll = PAGE + 'workers?json=1&_=2'
    assert browser.check(whole() + [(poll, [])], 'io@a1', ['io@a1'], PAGE) == []
    never = whole(**{PAGE + 'workers?json=1': []}) + [(poll, [])]
    assert browser.check(never, 'io@a1', ['io@a1'], PAGE) == [
        PAGE + 'workers?json=1 ended without an answer', poll + ' ended without an answer']


def test_the_requests_to_flower_from_chromiums_network_log(tmp_path):
    types = {'URL_REQUEST_START_JOB': 1, 'HTTP_TRANSACTION_READ_RESPONSE_HEADERS': 2, 'OTHER': 3}

    def event(kind, source, **params):
        return {'type': types[kind], 'source': {'id': source, 'type': 1}, 'params': params}
    log = {'constants': {'logEventTypes': types}, 'events': [
        event('URL_REQUEST_START_JOB', 7, url=PAGE + ' (credentials redacted)'),
        event('HTTP_TRANSACTION_READ_RESPONSE_HEADERS', 7, headers=['HTTP/1.1 401 Unauthorized', 'X: y']),
        event('HTTP_TRANSACTION_READ_RESPONSE_HEADERS', 7, headers=['HTTP/1.1 200 OK']),
        event('URL_REQUEST_START_JOB', 9, url='https://update.googleapis.com/x'),
        event('URL_REQUEST_START_JOB', 8, url=PAGE + 'api/workers'),
        event('OTHER', 8),
    ]}
    path = tmp_path / 'net.json'
    path.write_text(json.dumps(log))
    found = [(PAGE, ['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 200 OK']), (PAGE + 'api/workers', [])]
    assert browser.requests_from_netlog(str(path), 'http://127.0.0.1:15555') == found
    # Cut off mid-write (the events array left open).
    path.write_text(json.dumps(log)[:-2] + ',\n')
    assert browser.requests_from_netlog(str(path), 'http://127.0.0.1:15555') == found
    assert browser.with_login(PAGE, 'ad min', 'p@ss/w') == 'http://ad%20min:p%40ss%2Fw@127.0.0.1:15555/flower/'
