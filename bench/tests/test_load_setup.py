"""The load benchmark's pinning: each server on a core of its own, every thread of it."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from bench.load_setup import pin_to_cores

# A process with a second thread already running when it is pinned.
TWO_THREADS = (
    "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); "
    "print('ready', flush=True); time.sleep(60)"
)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_a_server_gets_the_last_core_and_the_others_the_rest() -> None:
    cores = sorted(os.sched_getaffinity(0))
    children = [
        subprocess.Popen([sys.executable, "-c", TWO_THREADS], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        server, other = (psutil.Process(child.pid) for child in children)

        said = pin_to_cores([[server]], others=[other])

        server_threads = [thread.id for thread in server.threads()]
        other_threads = [thread.id for thread in other.threads()]
        assert len(server_threads) == len(other_threads) == 2
        assert all(os.sched_getaffinity(tid) == {cores[-1]} for tid in server_threads)
        assert all(os.sched_getaffinity(tid) == set(cores[:-1]) for tid in other_threads)
        assert (
            said
            == f"pinned: servers on cores {cores[-1:]}, load client and simulator on {cores[:-1]}"
        )
    finally:
        for child in children:
            child.kill()
            child.wait()
