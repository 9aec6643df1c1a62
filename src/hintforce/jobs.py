"""How a workflow job runs: its log file and its BLAS threads.

Nothing here changes a result, so the workflow does not rerun anything when this module is
edited (it is left out of every rule's library inputs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

__all__ = ["job"]


@contextlib.contextmanager
def job(log_path: str | os.PathLike | None, threads: int = 1) -> Iterator[logging.Logger]:
    """Context for one workflow job: log to ``log_path`` and limit BLAS to ``threads``.

    Every ``hintforce`` logger writes progress lines to the job's log file. An exception
    escaping the block is logged with its traceback, and the job exits with status 1 and one
    line on stderr naming the error and the log (no traceback on the console).
    """
    handler: logging.Handler = (
        logging.FileHandler(log_path, mode="w")
        if log_path is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger("hintforce")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with threadpool_limits(limits=threads):
            yield root
    except Exception as err:
        root.exception("%s: %s", type(err).__name__, err)
        raise SystemExit(f"{type(err).__name__}: {err} (log: {log_path})") from err
    finally:
        root.removeHandler(handler)
        handler.close()
