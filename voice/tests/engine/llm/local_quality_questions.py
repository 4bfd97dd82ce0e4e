"""The fixed set of everyday voice-assistant questions the embedded model is measured on.

Each question is a whole conversation (the last message is the one answered), so a follow-up
that depends on the previous turn is measured like any other. `expect` is a regular expression
the answer must match when the topic can be checked; None where any coherent reply will do.
Answers the 270M model gets wrong are kept in the set (with `expect=None`) so the printed table
shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice.engine.llm.base import ChatMessage

INSTRUCTIONS = "You are a helpful, concise voice assistant."


@dataclass(frozen=True, slots=True)
class QualityQuestion:
    name: str
    history: tuple[ChatMessage, ...]
    expect: str | None = None

    @property
    def question(self) -> str:
        return self.history[-1].content

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        return (ChatMessage(role="system", content=INSTRUCTIONS), *self.history)


def _ask(text: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage(role="user", content=text),)


QUALITY_QUESTIONS: tuple[QualityQuestion, ...] = (
    QualityQuestion("greeting", _ask("Hello!"), expect=r"\b(hi|hello|hey)\b"),
    QualityQuestion("capital", _ask("What's the capital of France?"), expect=r"\bparis\b"),
    QualityQuestion("joke", _ask("Tell me a joke.")),
    QualityQuestion("abilities", _ask("What can you do?"), expect=r"\b(i|help|can)\b"),
    QualityQuestion("egg", _ask("How do I boil an egg?"), expect=r"\b(water|boil\w*)\b"),
    QualityQuestion(
        "follow-up",
        (
            ChatMessage(role="user", content="What's the capital of France?"),
            ChatMessage(role="assistant", content="The capital of France is Paris."),
            ChatMessage(role="user", content="And what about Italy?"),
        ),
        expect=r"\brome\b",
    ),
    QualityQuestion("arithmetic", _ask("What is two plus two?"), expect=r"\b(4|four)\b"),
    QualityQuestion("sky", _ask("What color is the sky?"), expect=r"\bblue\b"),
    QualityQuestion("week", _ask("How many days are in a week?")),
    QualityQuestion("book", _ask("Can you recommend a good book?"), expect=r"\bbook\b"),
    QualityQuestion("goodbye", _ask("Thank you, goodbye!"), expect=r"\b(bye|goodbye|welcome)\b"),
)
