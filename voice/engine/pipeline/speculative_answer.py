"""An answer prepared during the end-of-turn silence, for a guessed transcript.

The responder starts it (a held `ResponseRun`: it says nothing and calls no tool until
released), keeps it until its turn is confirmed, and then either adopts it as the active
response or abandons it. It is void as soon as its guess is: speech resumed, a newer guess,
the input cleared or the turn detection changed.
"""

from __future__ import annotations

import asyncio

from voice.engine.pipeline.response import ResponseRun
from voice.engine.pipeline.speculation import Speculation


class SpeculativeAnswer:
    """One speculative response: its run, the task running it, and the guess it answers."""

    def __init__(self, guess: Speculation, run: ResponseRun, task: asyncio.Task[None]) -> None:
        self.guess = guess
        self.run = run
        self.task = task
        self.abandoned = False

    @property
    def live(self) -> bool:
        """Whether it may still be adopted (not abandoned, and still running)."""
        return not self.abandoned and not self.task.done()

    def abandon(self) -> None:
        """Stop the run: the one place a speculative answer is cancelled."""
        self.abandoned = True
        self.task.cancel()
