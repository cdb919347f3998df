"""Per-process work slots: at most `limit` pieces of one kind of work run at once in a process.

Slots bound what one process spends on heavy work (bcrypt checks, image
decodes) whatever its thread count. They are per process by design: each
process has its own CPU time and memory to protect.
"""

import threading
from contextlib import contextmanager

_semaphores = {}
_semaphores_lock = threading.Lock()


@contextmanager
def held(name, limit, *, wait, busy):
    """Hold one of this process's `limit` slots called `name` while the block runs.

    Waits up to `wait` seconds (0: not at all) for a slot to free up, then
    raises `busy`, an exception instance. A changed `limit` (settings read per
    request) starts a new set of slots.
    """
    with _semaphores_lock:
        semaphore = _semaphores.setdefault((name, limit), threading.BoundedSemaphore(limit))
    if not semaphore.acquire(timeout=max(0.0, wait)):
        raise busy
    try:
        yield
    finally:
        semaphore.release()
