"""Running shard jobs on Dask: a local cluster by default, or an existing scheduler by address.

Shards stay the unit of work, so a lost worker costs only its shard: the driver's rerun logic redoes it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
from collections.abc import Iterator

__all__ = ["dask_executor"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_executor(address: str = "local", *, n_workers: int = 2) -> Iterator[cf.Executor]:
    """A ``concurrent.futures`` executor backed by Dask.

    Args:
        address: ``'local'`` starts a ``LocalCluster`` of ``n_workers`` single-threaded processes;
            anything else is a scheduler address (``tcp://host:8786``), e.g. of a dask-jobqueue cluster.
        n_workers: worker processes of the local cluster.
    """
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError as err:
        msg = "Dask scale-out needs 'distributed': pip install 'dask[distributed]'"
        raise ModuleNotFoundError(msg) from err
    if address == "local":
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster = None
        client = Client(address)
    log.info("Dask: %s", client)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
