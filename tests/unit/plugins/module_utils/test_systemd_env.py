"""systemd EnvironmentFile= quoting: case table plus a parser round trip."""

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils._systemd_env import quote_env_value


def parse_systemd_env_value(text):
    """Decode a value the way systemd's env-file parser does for our two forms."""
    if text.startswith("'"):
        assert text.endswith("'") and "'" not in text[1:-1]
        return text[1:-1]
    assert text.startswith('"') and text.endswith('"')
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        char = body[i]
        if char == '\\' and i + 1 < len(body) and body[i + 1] in '\\"`$':
            out.append(body[i + 1])
            i += 2
            continue
        assert char not in '"`$', 'unescaped %r in %r' % (char, text)
        out.append(char)
        i += 1
    return ''.join(out)


@pytest.mark.parametrize('value, expected', [
    ('plain', "'plain'"),
    ('', "''"),
    ('redis://:p@ss$word@host:6379/0', "'redis://:p@ss$word@host:6379/0'"),
    ('with space', "'with space'"),
    ('100%', "'100%'"),
    ("it's", '"it\'s"'),
    ("it's $HOME `x` \"q\" \\ end", '"it\'s \\$HOME \\`x\\` \\"q\\" \\\\ end"'),
])
def test_quote_table(value, expected):
    assert quote_env_value(value) == expected


@pytest.mark.parametrize('value', [
    'a', "a'b", 'a"b', 'a\\b', 'a$b', 'a`b', "'\"$`\\", 'ünïcödé', "x'y'z", '\\\\"',
])
def test_round_trip(value):
    assert parse_systemd_env_value(quote_env_value(value)) == value


@pytest.mark.parametrize('value', ['line\nbreak', 'cr\rhere', 'nul\x00byte'])
def test_refuses_unrepresentable(value):
    with pytest.raises(ValueError):
        quote_env_value(value)


def test_refuses_non_strings():
    with pytest.raises(TypeError):
        quote_env_value(42)
