"""Keep numba's on-disk kernel cache consistent with the kernel sources.

Numba's ``cache=True`` checks only the source file of each compiled function, not the files of the
functions it calls; after an edit of, say, ``minimc.py``, the cached ``batch.simulate_batch`` would
still run the old code. This module stamps the cache with a hash of all the package's sources and
clears it when the hash changes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

__all__ = ["refresh_kernel_cache"]

logger = logging.getLogger(__name__)

_STAMP = "mucalo-fast-kernels.sha256"


@functools.cache
def refresh_kernel_cache() -> bool:
    """Clear this package's numba cache if any of its sources changed; True if it was cleared.

    Runs once per process. A cache directory that cannot be written is left alone (numba then uses
    its own fallback location, which an installed, unchanging package never invalidates).
    """
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    cache_dir = here / "__pycache__"
    stamp = cache_dir / _STAMP
    value = digest.hexdigest()
    try:
        if stamp.is_file() and stamp.read_text().strip() == value:
            return False
        cache_dir.mkdir(exist_ok=True)
        removed = 0
        for pattern in ("*.nbi", "*.nbc"):
            for path in cache_dir.glob(pattern):
                path.unlink(missing_ok=True)
                removed += 1
        tmp = cache_dir / f".{_STAMP}.{os.getpid()}"
        tmp.write_text(value)
        tmp.replace(stamp)
    except OSError as err:
        logger.debug("numba cache in %s not refreshed: %s", cache_dir, err)
        return False
    if removed:
        logger.info("kernel sources changed: cleared %d cached numba files", removed)
    return True
