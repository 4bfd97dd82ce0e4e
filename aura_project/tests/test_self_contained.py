"""The repository stands alone: a clone in any folder runs its tests and benchmarks."""

from __future__ import annotations

import subprocess

from conftest import REPO_ROOT, TEST_AUDIO


def test_the_recordings_the_tests_use_are_in_the_repository() -> None:
    names = {path.name for path in TEST_AUDIO.iterdir()}
    assert {"jfk.flac", "english.wav", "lecture60.wav", "README.md"} <= names


def test_no_tracked_file_reads_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "*.py", "*.sh", "Makefile", "*.toml", "*.yml", "*.cfg"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    # Spelled in pieces so that this file does not name them itself.
    markers = ("../" + "shared", '"shared" / ' + '"audio"')
    offenders = [
        name
        for name in filter(None, tracked.split("\0"))
        if any(marker in (REPO_ROOT / name).read_text(errors="replace") for marker in markers)
    ]
    assert offenders == []
