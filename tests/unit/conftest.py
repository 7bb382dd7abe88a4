"""Make the collection importable as ansible_collections.celeryops.deploy.

`make unit` runs pytest from the collection's path inside
.cache/collections (a link to this checkout); this also works when pytest is
started from the repository root.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')
if os.path.isdir(COLLECTIONS) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
