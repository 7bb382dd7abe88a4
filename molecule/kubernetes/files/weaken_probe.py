"""Copy a render with one container's probe replaced (for breaks.yml).

A probe weakened the way hand-written charts often have it, to show that
probe_proof.py fails on it: usage

  weaken_probe.py SRC DST DEPLOYMENT KIND COMMAND_JSON

copies SRC's *.yaml to DST (created), with DEPLOYMENT's first container's
KIND probe (liveness, readiness, startup) running COMMAND_JSON instead.
Exits 1 when the Deployment or its probe is not in the render.
"""

import json
import os
import shutil
import sys

import yaml


def weaken(docs, deployment, kind, command):
    """The documents with the probe's exec command replaced; raises KeyError when absent."""
    for doc in docs:
        if doc and doc.get('kind') == 'Deployment' and doc['metadata']['name'] == deployment:
            probe = doc['spec']['template']['spec']['containers'][0]['%sProbe' % kind]
            probe.pop('httpGet', None)
            probe['exec'] = {'command': command}
            return docs
    raise KeyError('no Deployment %s' % deployment)


def main(src, dst, deployment, kind, command):
    os.makedirs(dst, exist_ok=True)
    found = False
    for name in sorted(os.listdir(src)):
        if not name.endswith('.yaml'):
            continue
        with open(os.path.join(src, name)) as handle:
            docs = list(yaml.safe_load_all(handle))
        try:
            docs = weaken(docs, deployment, kind, json.loads(command))
            found = True
        except KeyError:
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
            continue
        with open(os.path.join(dst, name), 'w') as handle:
            yaml.safe_dump_all(docs, handle, sort_keys=False)
    if not found:
        sys.exit('no %s probe of Deployment %s in %s' % (kind, deployment, src))


if __name__ == '__main__':
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
