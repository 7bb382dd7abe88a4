"""Flower in a real browser: headless Chromium opens it through its URL
prefix with its login and must see it whole.

    python3 flower_browser.py --url http://127.0.0.1:15555/flower/ --user admin
        --password-file FILE --nodes io1@host,cpu1@host --screenshot flower.png

Chromium loads the page with the credentials in the URL (its first request
gets Flower's 401 challenge, as any browser does, then it logs in and sends
the login with every request of that origin), runs its scripts (the workers
table refreshes itself from <prefix>/workers?json=1) and prints the DOM;
a second run saves a screenshot. Chromium's own network log (NetLog) gives
every request it made to Flower and the responses it got. Passes when the
page, its stylesheets and scripts and the data calls it made all ended 2xx
or 3xx (a 401 answered by a logged-in retry is the login, not a failure), each
node name is in the DOM and the screenshot was written. Prints a JSON report;
exit 1 when something is missing.

Chromium talks to nothing but loopback: every other address goes to a proxy
that does not exist (loopback bypasses proxies), its background services off.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import quote, urlsplit, urlunsplit

CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-default-apps', '--disable-sync', '--disable-extensions',
    '--no-pings', '--disable-domain-reliability', '--proxy-server=http://127.0.0.1:9',
    '--window-size=1280,900',
    # Virtual time runs until the page is idle (its API calls answered), at most this long.
    '--virtual-time-budget=15000',
]


def with_login(url, user, password):
    parts = urlsplit(url)
    netloc = '%s:%s@%s' % (quote(user, safe=''), quote(password, safe=''), parts.netloc)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def chromium(binary, args, timeout):
    """Run chromium once; its profile is a fresh temporary directory."""
    with tempfile.TemporaryDirectory(prefix='celeryops-chromium-') as profile:
        try:
            return subprocess.run([binary] + CHROMIUM_FLAGS + ['--user-data-dir=%s' % profile] + args,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, -1, exc.stdout or '', 'timed out after %d s' % timeout)


def requests_from_netlog(path, origin):
    """[(url, [status line, ...])] of every request to ``origin``, in order.

    A URL_REQUEST source is one request; its response headers are read once
    per answer (a 401 challenge, then the logged-in answer)."""
    with open(path) as handle:
        text = handle.read()
    try:
        log = json.loads(text)
    except ValueError:
        # Chromium killed mid-write leaves the events array open.
        log = json.loads(text.rstrip().rstrip(',') + ']}')
    names = dict((number, name) for name, number in log['constants']['logEventTypes'].items())
    urls, answers = {}, {}
    for event in log.get('events', []):
        name = names.get(event['type'])
        params = event.get('params') or {}
        source = event['source']['id']
        if name == 'URL_REQUEST_START_JOB' and 'url' in params:
            urls.setdefault(source, params['url'])
        elif name == 'HTTP_TRANSACTION_READ_RESPONSE_HEADERS' and params.get('headers'):
            answers.setdefault(source, []).append(params['headers'][0])
    found = []
    for source in sorted(urls):
        # NetLog writes a URL with credentials as "<url> (credentials redacted)".
        url = urls[source].split(' ', 1)[0]
        parts = urlsplit(url)
        if '%s://%s' % (parts.scheme, parts.netloc.rsplit('@', 1)[-1]) == origin:
            found.append((url, answers.get(source, [])))
    return found


def status_code(line):
    try:
        return int(line.split()[1])
    except (IndexError, ValueError):
        return 0


def check(requests, dom, nodes, page_url):
    """The failures: requests that did not end 2xx/3xx, missing kinds of request, nodes not shown."""
    failures = []
    # The tab's icon is the browser's own business, fetched late or never in
    # headless mode (the request is then cancelled): not part of the page.
    requests = [(url, answers) for url, answers in requests if not urlsplit(url).path.endswith('favicon.ico')]
    # The table polls every second: the poll in flight when the browser
    # stopped has no answer, and is no failure if the same call was answered.
    answered = set(urlsplit(url).path for url, answers in requests
                   if answers and 200 <= status_code(answers[-1]) < 400)
    requests = [(url, answers) for url, answers in requests if answers or urlsplit(url).path not in answered]
    for url, answers in requests:
        final = status_code(answers[-1]) if answers else 0
        if not 200 <= final < 400:
            failures.append('%s ended %s' % (url, answers[-1] if answers else 'without an answer'))
    paths = [urlsplit(url).path for url, _answers in requests]
    page_path = urlsplit(page_url).path
    if page_path not in paths:
        failures.append('the page %s was not requested' % page_path)
    for kind, suffix in (('stylesheet', '.css'), ('script', '.js')):
        if not any(path.endswith(suffix) for path in paths):
            failures.append('no %s was loaded' % kind)
    # The workers table fills itself from Flower (<prefix>/workers?json=1,
    # every second): a call without a file extension, other than the page.
    if not any(path != page_path and '.' not in path.rsplit('/', 1)[-1] for path in paths):
        failures.append('the page fetched no data from Flower')
    # A whole name: io@a1 is not io@a10.
    failures.extend('node %s is not on the page' % node for node in nodes
                    if not re.search(re.escape(node) + r'(?![\w.@-])', dom))
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--url', required=True, help="Flower's page under its URL prefix")
    parser.add_argument('--user', required=True)
    parser.add_argument('--password-file', required=True)
    parser.add_argument('--nodes', default='', help='comma-separated node names the page must show')
    parser.add_argument('--screenshot', required=True)
    parser.add_argument('--chromium', default='chromium')
    parser.add_argument('--timeout', type=float, default=90)
    args = parser.parse_args(argv)
    with open(args.password_file) as handle:
        password = handle.read().strip()
    nodes = [node for node in args.nodes.split(',') if node]
    url = with_login(args.url, args.user, password)
    parts = urlsplit(args.url)
    origin = '%s://%s' % (parts.scheme, parts.netloc)
    with tempfile.TemporaryDirectory(prefix='celeryops-netlog-') as work:
        netlog = os.path.join(work, 'net.json')
        dumped = chromium(args.chromium, ['--log-net-log=%s' % netlog, '--dump-dom', url], args.timeout)
        shot = chromium(args.chromium, ['--screenshot=%s' % os.path.abspath(args.screenshot), url], args.timeout)
        requests = requests_from_netlog(netlog, origin) if os.path.exists(netlog) else []
    failures = check(requests, dumped.stdout, nodes, args.url)
    if dumped.returncode != 0:
        failures.append('chromium --dump-dom exited %d: %s' % (dumped.returncode, dumped.stderr[-500:]))
    if shot.returncode != 0 or not os.path.exists(args.screenshot) or os.path.getsize(args.screenshot) == 0:
        failures.append('no screenshot (chromium exited %d: %s)' % (shot.returncode, shot.stderr[-500:]))
    report = {'requests': [[url, answers] for url, answers in requests], 'nodes': nodes,
              'dom_chars': len(dumped.stdout), 'screenshot': args.screenshot, 'failures': failures}
    sys.stdout.write(json.dumps(report, indent=1) + '\n')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
