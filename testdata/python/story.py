"""The story's bug in a small program: worker threads of a web API share a
connection pool guarded by one threading.RLock, and the lock is held across
the downstream call, so the workers spend their time waiting on it (CPU stays
low, requests time out).

    python3.12 story.py [SECONDS] [THREADS]

`stackconv record --off-cpu -o waits.svg -- python3.12 story.py` shows it:
the top `stackconv waits` row is the RLock acquire in Repository.load.
"""
import sys
import threading
import time

POOL_LOCK = threading.RLock()


class Repository:
    def load(self, key):
        with POOL_LOCK:
            time.sleep(0.002)  # the downstream call, under the lock
            return key


def worker(seconds):
    repo = Repository()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        repo.load(1)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    ts = [threading.Thread(target=worker, args=(seconds,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if __name__ == "__main__":
    main()
