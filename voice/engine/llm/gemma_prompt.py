"""The prompt for the embedded Gemma 3 270M model, built from the engine's chat history.

Gemma 3 270M as shipped here is a *base* model: it continues text, it does not follow
instructions. What makes it answer like a voice assistant is a few-shot transcript that shows
an assistant answering what was asked, in one short sentence: facts, directions, how-to steps,
a comment on a statement or a famous line, a joke; the model then continues the pattern. No
example talks about the assistant itself: the model copied such a line ("I am a voice
assistant.") to a third of the questions it could not answer.

Two layouts are supported:

- `"transcript"` (default, for the base model): plain `Q:` / `A:` lines, the examples first
  and the same for every agent (llama.cpp keeps them cached when agents take turns), then the
  agent's instructions, then the conversation. Measured on the fixed question set in
  `voice/tests/engine/llm/local_quality_questions.py`, Gemma's own turn tokens make the base
  model end almost every answer with a stray word ("webpages", "SUBSCRIBE") because it never
  learned `<end_of_turn>`; the transcript ends cleanly at a newline. It is tokenized without
  special tokens, so no text can turn into a control token.
- `"turns"` (for an instruction-tuned Gemma GGUF set through `AURA_LLM_GGUF`): Gemma's
  `<start_of_turn>user ... <end_of_turn>` format, which the `-it` models were trained on.

The base model cannot make real tool calls, so tools are not offered to it at all; tool results
already in the history are shown to it as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from voice.engine.llm.base import ChatMessage

PromptStyle = Literal["transcript", "turns"]

DEFAULT_PERSONA = "You are a helpful, concise voice assistant."

# Long tenant instructions drown a 270M model's few-shot pattern; the first sentences matter most.
MAX_PERSONA_CHARS = 600

# The pattern the base model continues: varied everyday questions and statements, one short
# sentence each, including a follow-up that depends on the previous turn. None of them is in
# the quality set; none has the assistant talk about itself.
FEW_SHOT_EXCHANGES: tuple[tuple[str, str], ...] = (
    ("Hi there!", "Hello! Nice to hear from you."),
    ("What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("And what about Germany?", "The capital of Germany is Berlin."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa."),
    (
        "How do I get to the Eiffel Tower?",
        "Take the metro to Bir-Hakeim station; the tower is a short walk from there.",
    ),
    (
        "How do I cook rice?",
        "Rinse the rice, simmer it in twice as much water, and wait about fifteen minutes.",
    ),
    (
        "May the Force be with you.",
        "That is the famous blessing from Star Wars: it wishes someone luck and strength.",
    ),
    (
        "I think we should all recycle more.",
        "Good idea: recycling saves energy and keeps waste out of landfills.",
    ),
    (
        "Scientists in a new study say the oceans are getting warmer every year,",
        "Warmer oceans bleach coral reefs and make storms stronger, so that study matters.",
    ),
    (
        "Make me laugh.",
        "Why did the scarecrow win an award? Because he was outstanding in his field!",
    ),
    ("Thanks a lot!", "You're welcome!"),
    ("How many legs does a spider have?", "A spider has eight legs."),
    (
        "Can you tell me a good recipe for pancakes?",
        "Mix a cup of flour, an egg and a cup of milk, then fry small ladlefuls in butter.",
    ),
    ("Testing, testing.", "Loud and clear: I can hear you."),
)

# The transcript's speaker labels. Measured on the quality set, terse "Q"/"A" labels get more
# facts right than "User"/"Assistant" ("Jupiter.", "Shakespeare." where those gave "Earth"
# and "The author of the play."), whose "Assistant" pulls the base model towards chatbot talk.
USER_LABEL = "Q"
ASSISTANT_LABEL = "A"

# "A:" is no stop: the model does not write it mid-line, and "Vitamin A: ..." must survive.
TRANSCRIPT_STOP = ("\n", f"{USER_LABEL}:", "<end_of_turn>", "<start_of_turn>")
TURNS_STOP = ("<end_of_turn>", "<start_of_turn>", "\nUser:", "\nAssistant:")

# Gemma's control tokens as text: `<start_of_turn>`, `</s>`, `<unused12>`, `<image_soft_token>`...
_CONTROL_TOKEN = re.compile(
    r"</?\s*(?:start_of_turn|end_of_turn|bos|eos|pad|unk|mask|s|"
    r"start_of_image|end_of_image|image_soft_token|unused\d+)\s*>",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(r"\s+")
# Any speaker label either prompt style uses or used: user text cannot start a turn with one.
_ROLE_LABEL = re.compile(r"\b(User|Assistant|Model|Q|A)\s*:", re.IGNORECASE)

TokenCounter = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class GemmaPrompt:
    """A rendered prompt and how to tokenize and stop it.

    Attributes:
        text: The prompt, ending where the model's answer starts.
        stop: Strings that end the answer when the model writes them.
        parse_special: Whether control tokens in `text` must be tokenized as such.
        leading_labels: Speaker labels to drop if the model repeats one to open its answer.
        kept_messages: History messages that fit in the budget.
        dropped_messages: Oldest history messages left out to fit the budget.
    """

    text: str
    stop: tuple[str, ...]
    parse_special: bool
    kept_messages: int
    dropped_messages: int
    leading_labels: tuple[str, ...] = ()


def neutralise(text: str) -> str:
    """Make message text inert: no control tokens, no role labels, no line breaks.

    A voice turn is one line, so collapsing whitespace loses nothing, and it means a user saying
    "...\\nAssistant: sure" or "<end_of_turn><start_of_turn>model" cannot open a turn.
    """
    without_tokens = _CONTROL_TOKEN.sub(" ", text)
    without_labels = _ROLE_LABEL.sub(lambda match: match.group(1), without_tokens)
    return _WHITESPACE.sub(" ", without_labels).strip()


def persona_from(messages: Sequence[ChatMessage]) -> str:
    """The agent's instructions (every system message) as one neutralised paragraph."""
    instructions = " ".join(neutralise(m.content) for m in messages if m.role == "system")
    persona = instructions.strip() or DEFAULT_PERSONA
    if len(persona) > MAX_PERSONA_CHARS:
        persona = persona[:MAX_PERSONA_CHARS].rsplit(" ", 1)[0]
    return persona


def build_gemma_prompt(
    messages: Sequence[ChatMessage],
    *,
    count_tokens: TokenCounter,
    max_prompt_tokens: int,
    style: PromptStyle = "transcript",
) -> GemmaPrompt:
    """Render the chat history as a few-shot prompt that fits in `max_prompt_tokens`.

    Args:
        messages: The conversation, oldest first; system messages become the persona.
        count_tokens: Counts the model's tokens in a piece of prompt text.
        max_prompt_tokens: Budget for the whole prompt (context size minus the answer's room).
        style: `"transcript"` for the base model, `"turns"` for an instruction-tuned one.

    Returns:
        The prompt. The oldest turns are dropped first; the latest user turn is always kept,
        cut from the front if even it alone does not fit.
    """
    render = _TranscriptRenderer() if style == "transcript" else _TurnsRenderer()
    header = render.header(persona_from(messages))
    lines = [line for m in messages if (line := render.message(m)) is not None]
    room = max_prompt_tokens - count_tokens(header) - count_tokens(render.cue)
    kept = _newest_that_fit(lines, room, count_tokens, render)
    return GemmaPrompt(
        text=header + "".join(kept) + render.cue,
        stop=render.stop,
        parse_special=render.parse_special,
        kept_messages=len(kept),
        dropped_messages=len(lines) - len(kept),
        leading_labels=render.leading_labels,
    )


def _newest_that_fit(
    lines: list[_Line], room: int, count_tokens: TokenCounter, render: _Renderer
) -> list[str]:
    latest_user = max((i for i, line in enumerate(lines) if line.role == "user"), default=None)
    kept: list[str] = []
    for index in range(len(lines) - 1, -1, -1):
        cost = count_tokens(lines[index].text)
        if cost <= room:
            kept.insert(0, lines[index].text)
            room -= cost
        elif index == latest_user:
            # The question being answered must survive; later lines (tool results) may not.
            kept = [
                _cut_to_fit(lines[index], room + _cost(kept, count_tokens), count_tokens, render)
            ]
            break
        elif latest_user is None or index < latest_user:
            break
    return kept


def _cost(texts: list[str], count_tokens: TokenCounter) -> int:
    return sum(count_tokens(text) for text in texts)


def _cut_to_fit(line: _Line, room: int, count_tokens: TokenCounter, render: _Renderer) -> str:
    """The line's message with words dropped from the front (the end of speech matters most)."""
    words = line.content.split(" ")
    low, high = 0, len(words)
    # Binary search for the fewest dropped words: rendering is monotone in the words kept.
    while low < high:
        middle = (low + high) // 2
        if count_tokens(render.line(line.role, " ".join(words[middle:]))) <= room:
            high = middle
        else:
            low = middle + 1
    return render.line(line.role, " ".join(words[low:]))


@dataclass(frozen=True, slots=True)
class _Line:
    role: Literal["user", "assistant"]
    content: str
    text: str


class _Renderer:
    cue: str
    stop: tuple[str, ...]
    parse_special: bool
    leading_labels: tuple[str, ...] = ()

    def header(self, persona: str) -> str:
        raise NotImplementedError

    def line(self, role: Literal["user", "assistant"], content: str) -> str:
        raise NotImplementedError

    def message(self, message: ChatMessage) -> _Line | None:
        """One history message as a prompt line, or None if the model should not see it."""
        content = neutralise(message.content)
        if message.role == "tool":
            # No tool-calling turn exists for this model: the result reads as something it said.
            role: Literal["user", "assistant"] = "assistant"
            content = f"(Result: {content})" if content else ""
        elif message.role in ("user", "assistant"):
            role = "user" if message.role == "user" else "assistant"
        else:
            return None
        if not content:
            return None
        return _Line(role=role, content=content, text=self.line(role, content))


class _TranscriptRenderer(_Renderer):
    cue = f"{ASSISTANT_LABEL}:"
    stop = TRANSCRIPT_STOP
    parse_special = False
    leading_labels = (f"{ASSISTANT_LABEL}:",)

    def header(self, persona: str) -> str:
        shots = "".join(
            self.line("user", question) + self.line("assistant", answer)
            for question, answer in FEW_SHOT_EXCHANGES
        )
        # The examples come first and are the same for every agent, so llama.cpp keeps them
        # cached when agents with different instructions take turns: only the persona line
        # and the conversation are read anew (measured: a new agent's first token after ~60 ms
        # instead of ~500 ms with the persona opening the prompt).
        return (
            f"Below, {USER_LABEL} is what the user says and {ASSISTANT_LABEL} is the "
            f"assistant's reply. The assistant knows a lot and always gives a real answer in "
            f"one or two short sentences: a fact, a practical step, or a friendly comment on "
            f"what the user said.\n\n{shots}\n{persona} The assistant knows a lot and "
            f"always gives a real answer in one or two short sentences.\n\n"
        )

    def line(self, role: Literal["user", "assistant"], content: str) -> str:
        label = USER_LABEL if role == "user" else ASSISTANT_LABEL
        return f"{label}: {content}\n"


class _TurnsRenderer(_Renderer):
    cue = "<start_of_turn>model\n"
    stop = TURNS_STOP
    parse_special = True

    def header(self, persona: str) -> str:
        # Gemma has no system role: the persona opens the first user turn.
        primer = self.line("user", f"{persona} Answer in one or two short sentences.")
        return (
            primer
            + self.line("assistant", "Understood.")
            + "".join(
                self.line("user", question) + self.line("assistant", answer)
                for question, answer in FEW_SHOT_EXCHANGES
            )
        )

    def line(self, role: Literal["user", "assistant"], content: str) -> str:
        turn = "user" if role == "user" else "model"
        return f"<start_of_turn>{turn}\n{content}<end_of_turn>\n"
