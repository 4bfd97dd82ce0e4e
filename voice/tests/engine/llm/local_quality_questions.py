"""The fixed set of questions the embedded model is measured on, and how an answer is scored.

Each question is a whole conversation (the last message is the one answered), so a follow-up
that depends on the previous turn is measured like any other. The set mixes facts, how-to
questions, small talk and what the test recordings say (as Whisper transcribes them), since a
voice assistant is spoken to with whatever the microphone heard.

An answer *addresses* the question when it contains one of the question's key words (a regular
expression: what any fitting answer would mention), is not canned and does not merely repeat
the question's words. An answer is *canned*
when it would fit any question: the persona talking about itself ("I'm a voice assistant."),
an offer of help, an apology or a refusal, the same words given to different questions, or
mostly the words of a line of the prompt (an example, the agent's instructions).
Where a stock reply is the right answer ("Hello!", "What can you do?"), it is not counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from voice.engine.llm.base import ChatMessage
from voice.engine.llm.gemma_prompt import FEW_SHOT_EXCHANGES

INSTRUCTIONS = "You are a helpful, concise voice assistant."

# The goals the whole set is held to.
CANNED_GOAL = 0.10
ADDRESSED_GOAL = 0.60


@dataclass(frozen=True, slots=True)
class Baseline:
    commit: str
    canned: int
    addressed: int
    first_token_median_ms: float


# The prompt and sampling before this set was introduced, measured with this set and this
# scoring on the same 2-core machine, alternating with the current prompt: the first-token
# median was 37 and 44 ms before, 50 and 45 ms after (it moves by ~10 ms with the load of the
# shared machine).
BEFORE = Baseline(commit="960f1bb", canned=9, addressed=12, first_token_median_ms=40.0)

CANNED = re.compile(
    r"\b(i'?m|i am) (just )?(a|an|your) ([\w-]+ )?(assistant|expert|bot|ai|language model)\b"
    r"|\bhow (can|may) i (help|assist)\b"
    r"|\b(i'?m|i am) sorry\b"
    r"|\bi (can'?t|cannot|don'?t know|do not know)\b"
    r"|\b(i'?m|i am) not sure\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class QualityQuestion:
    name: str
    history: tuple[ChatMessage, ...]
    keywords: str
    # Checked strictly (the test fails on a miss): facts the model has always got right.
    must: bool = False
    # A stock reply (a greeting, "you're welcome", what it can do) is the right answer here.
    stock_reply_fits: bool = False

    @property
    def question(self) -> str:
        return self.history[-1].content

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        return (ChatMessage(role="system", content=INSTRUCTIONS), *self.history)

    def mentions_key_words(self, answer: str) -> bool:
        return re.search(self.keywords, answer, re.IGNORECASE) is not None


def _ask(text: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage(role="user", content=text),)


QUALITY_QUESTIONS: tuple[QualityQuestion, ...] = (
    # Small talk
    QualityQuestion(
        "greeting",
        _ask("Hello!"),
        r"\b(hi|hello|hey|nice to (meet|see|hear)|good (morning|afternoon|evening))\b",
        must=True,
        stock_reply_fits=True,
    ),
    QualityQuestion("how-are-you", _ask("How are you today?"), r"\b(good|great|well|fine)\b"),
    QualityQuestion("joke", _ask("Tell me a joke."), r"\b(why|what do you call|because|knock)\b"),
    QualityQuestion(
        "abilities", _ask("What can you do?"), r"\b(help|answer|can)\b", stock_reply_fits=True
    ),
    QualityQuestion(
        "weekend",
        _ask("What should I do this weekend?"),
        r"\b(go|visit|try|read|walk|hike|movie|park|relax|friends|trip|cook|garden)\w*",
    ),
    QualityQuestion(
        "goodbye",
        _ask("Thank you, goodbye!"),
        r"\b(bye|goodbye|welcome)\b",
        must=True,
        stock_reply_fits=True,
    ),
    # Facts
    QualityQuestion("capital", _ask("What's the capital of France?"), r"\bparis\b", must=True),
    QualityQuestion(
        "follow-up",
        (
            ChatMessage(role="user", content="What's the capital of France?"),
            ChatMessage(role="assistant", content="The capital of France is Paris."),
            ChatMessage(role="user", content="And what about Italy?"),
        ),
        r"\brome\b",
        must=True,
    ),
    QualityQuestion("arithmetic", _ask("What is two plus two?"), r"\b(4|four)\b", must=True),
    QualityQuestion("sky", _ask("What color is the sky?"), r"\bblue\b", must=True),
    QualityQuestion("week", _ask("How many days are in a week?"), r"\b(7|seven)\b"),
    QualityQuestion(
        "planet", _ask("What is the largest planet in our solar system?"), r"\bjupiter\b"
    ),
    QualityQuestion(
        "boiling-point",
        _ask("At what temperature does water boil?"),
        r"\b(100|hundred|212)\b",
    ),
    QualityQuestion("author", _ask("Who wrote Romeo and Juliet?"), r"\bshakespeare\b"),
    # How-to
    QualityQuestion("egg", _ask("How do I boil an egg?"), r"\b(water|boil\w*|minutes?|pot|pan)\b"),
    QualityQuestion(
        "tea",
        _ask("How do I make a cup of tea?"),
        r"\b(water|tea ?bag|boil\w*|steep|kettle|leaves|brew)\b",
    ),
    QualityQuestion(
        "sleep",
        _ask("How can I sleep better?"),
        r"\b(bed\w*|routine|dark|screens?|caffeine|relax\w*|schedule|hours?|room)\b",
    ),
    # A recommendation names something: a title, an author.
    QualityQuestion(
        "book", _ask("Can you recommend a good book?"), r"(?-i:\bby [A-Z])|\"|\b(called|titled)\b"
    ),
    # What the test recordings say, as Whisper transcribes them.
    QualityQuestion(
        "jfk",
        _ask(
            "And so my fellow Americans ask not what your country can do for you "
            "ask what you can do for your country."
        ),
        r"\b(kennedy|jfk|president|countr(y|ies)|americans?|speech|quote|serve|service)\b",
    ),
    QualityQuestion(
        "dublin",
        _ask("and says, how do I get to Dublin?"),
        r"\b(dublin|ireland|irish|fly|flight|ferry|train|bus|airport|map|drive|road)\w*",
    ),
    QualityQuestion(
        "philosophy",
        _ask(
            "That is to say much of political philosophy develops theories that take no "
            "account of where we actually are,"
        ),
        r"\b(philosoph|theor|politic|practi|real)\w*",
    ),
    QualityQuestion(
        "wealth-tax",
        _ask(
            "Thomas Piketty in his book, Capital in the 21st Century, "
            "argues for a 4% global wealth tax."
        ),
        r"\b(piketty|tax\w*|wealth\w*|capital\w*|inequalit\w*|rich|econom\w*)\b",
    ),
    QualityQuestion("counting", _ask("One, two, three."), r"\b(four|4|count\w*|hear|testing)\b"),
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one answer scored."""

    canned: bool
    addresses: bool


def judge(answers: Sequence[tuple[QualityQuestion, str]]) -> list[Verdict]:
    """Score every answer of a run (an answer repeated for different questions is canned)."""
    repeats = Counter(_normalised(answer) for _, answer in answers)
    verdicts = []
    for item, answer in answers:
        canned = not item.stock_reply_fits and (
            CANNED.search(answer) is not None
            or repeats[_normalised(answer)] > 1
            or _copies_an_example(answer)
        )
        echo = not item.stock_reply_fits and _echoes(answer, item.question)
        verdicts.append(
            Verdict(
                canned=canned,
                addresses=not canned and not echo and item.mentions_key_words(answer),
            )
        )
    return verdicts


def _copies_an_example(answer: str) -> bool:
    """Whether the answer is mostly a line of the prompt: an example or the agent's instructions."""
    said = _trigrams(answer)
    lines = [line for exchange in FEW_SHOT_EXCHANGES for line in exchange] + [INSTRUCTIONS]
    return bool(said) and any(len(said & _trigrams(line)) >= len(said) / 2 for line in lines)


def _echoes(answer: str, question: str) -> bool:
    """Whether the answer says nothing but the question's own words."""
    return set(_normalised(answer).split()) <= set(_normalised(question).split())


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _normalised(text).split()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
