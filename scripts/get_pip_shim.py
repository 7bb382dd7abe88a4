"""Offline stand-in for the get-pip.py bootstrap that ansible-test downloads.

ansible-test bootstraps pip into each sanity venv with a script from a host
this machine cannot reach, and reads it from ~/.ansible/test/cache/ when
present. This does the same job with what Python already has: ensurepip,
then pip installs the versions ansible-test asked for, from PyPI.
"""

import subprocess
import sys

# get-pip.py options that `pip install` does not know.
GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
