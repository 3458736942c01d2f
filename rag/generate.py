"""The configured LLM: a cited answer written from numbered passages, and follow-ups condensed.

Any OpenAI-compatible endpoint (Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI) through
LlamaIndex's `OpenAILike`. Nothing here judges the answer: rag.verify checks each sentence.
Every failure becomes an `LLMError` with a one-line message that names the endpoint, never
the API key, so clients can show it as a notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from collections.abc import Generator as Generator_
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import PaperTrailError
from index.models import Passage
from index.sentences import Sentence
from index.settings import LLMSettings

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

__all__ = [
    "Generator",
    "Judgement",
    "LLMError",
    "answer_messages",
    "condense_messages",
    "judge_messages",
    "reading_passages",
]

# How much of each passage the prompt carries; the answerer's chunks are ~1000 characters.
_PASSAGE_CHARS = 1500
_HISTORY_TURNS = 3  # earlier exchanges shown when condensing a follow-up
_HISTORY_ANSWER_CHARS = 600

# One system prompt and one passage block for the judge and the writer: a llama.cpp server
# reads the shared prefix once and answers the second call from its cache. Abstention stays
# out of the writer's task: told to refuse when the passages fall short, a small model
# refused every question (docs/llm.md); the judge decides that, separately.
READ_SYSTEM = (
    "You read numbered passages from scientific articles and answer questions using only "
    "what the passages state."
)
WRITE_TASK = (
    "Answer the question in at most {sentences} sentences of plain prose (no lists, no "
    "headings), using only the passages. Copy numbers, units and names exactly as the "
    "passages give them. End every sentence with the number of the passage that states it, "
    "in square brackets, like [1] or [2][3]."
)
JUDGE_TASK = (
    'Do the passages state the answer to the question? Reply in JSON: "answerable" is true '
    "if a passage states the answer and false if none does (a passage on the same topic that "
    'does not give the answer is not enough); "passage" is the number of the passage that '
    "states it, or 0."
)
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"answerable": {"type": "boolean"}, "passage": {"type": "integer"}},
    "required": ["answerable", "passage"],
}
CONDENSE_SYSTEM = (
    "Rewrite the user's last question as one standalone question that can be understood "
    "without the conversation. Replace pronouns and references such as 'they' or 'the "
    "ethical ones' with what they refer to. If the question already stands alone, return it "
    "unchanged. Reply with the question only."
)


class LLMError(PaperTrailError):
    """The LLM could not give a complete answer (unreachable, timeout, HTTP error, bad stream)."""


def answer_messages(question: str, passages: Sequence[Passage], sentences: int) -> list[Any]:
    """The writer's prompt: the passages numbered [1]..[n], the question, the task."""
    return _reading(question, passages, WRITE_TASK.format(sentences=sentences))


def judge_messages(question: str, passages: Sequence[Passage]) -> list[Any]:
    """The judge's prompt: the writer's, but for the task (so the prefix is shared)."""
    return _reading(question, passages, JUDGE_TASK)


def _reading(question: str, passages: Sequence[Passage], task: str) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    blocks = []
    for n, p in enumerate(passages, start=1):
        # A document's title once: the reader pays ~70 tokens/s for every repeat.
        title = p.title if all(q.title != p.title for q in passages[: n - 1]) else None
        where = ", ".join(
            x for x in (title, f"p. {p.page_label or p.page}", p.section and f"§ {p.section}") if x
        )
        text = " ".join(p.text.split())[:_PASSAGE_CHARS]
        blocks.append(f"[{n}] ({where})\n{text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\n\n{task}"
    return [
        ChatMessage(role="system", content=READ_SYSTEM),
        ChatMessage(role="user", content=user),
    ]


def reading_passages(
    passages: Sequence[Passage],
    *,
    query_vector: Sequence[float],
    sentences_in: Callable[[str, int, int], list[tuple[Sentence, Any]]],
    count: int,
    chars: int,
    first: str | None = None,
) -> list[Passage]:
    """What a small model reads: `count` passages (the chunk `first` first, when given,
    then the others in their order), each cut to the window of whole sentences, at most
    `chars` long, around its sentence closest to the question; a window that mostly repeats
    an earlier one (chunks overlap) makes way for the next passage. A 1.5B model on 2 cores
    reads ~70 tokens/s: each passage it does not need costs seconds before the first word."""
    ordered = sorted(passages, key=lambda p: p.chunk_id != first) if first else list(passages)
    query = np.asarray(query_vector, dtype=np.float32)
    out: list[Passage] = []
    for p in ordered:
        if len(out) == count:
            break
        window = _window(p, sentences_in(p.doc_id, p.start, p.end), query, chars)
        if not any(_repeats(window, seen) for seen in out):
            out.append(window)
    # In retrieval order, so that [1] is still the best-ranked passage.
    rank = {p.chunk_id: i for i, p in enumerate(passages)}
    return sorted(out, key=lambda p: rank[p.chunk_id])


def _window(
    p: Passage, sentences: list[tuple[Sentence, Any]], query: np.ndarray, chars: int
) -> Passage:
    if len(p.text) <= chars or not sentences:
        return p
    cosines = [float(np.asarray(v, dtype=np.float32) @ query) for _, v in sentences]
    lo = hi = int(np.argmax(cosines))
    grow_after = True
    while True:  # a neighbour after, then one before, while the window fits
        options = [(lo, hi + 1), (lo - 1, hi)] if grow_after else [(lo - 1, hi), (lo, hi + 1)]
        grown = next(
            (
                (a, b)
                for a, b in options
                if 0 <= a
                and b < len(sentences)
                and sentences[b][0].end - sentences[a][0].start <= chars
            ),
            None,
        )
        if grown is None:
            break
        lo, hi = grown
        grow_after = not grow_after
    a = max(sentences[lo][0].start, p.start) - p.start
    b = min(sentences[hi][0].end, p.end) - p.start
    # The window's own page and section: a chunk may begin in the one before.
    page, section = p.spans.page_at(p.start + a), p.spans.section_at(p.start + a)
    where: dict[str, Any] = {"page": page.page, "page_label": page.label} if page else {}
    if section:
        where["section"] = section.heading
    return p.model_copy(
        update={"text": p.text[a:b], "start": p.start + a, "end": p.start + b, **where}
    )


def _repeats(window: Passage, seen: Passage) -> bool:
    """Whether half of `window` is text `seen` already shows."""
    if window.doc_id != seen.doc_id:
        return False
    shared = min(window.end, seen.end) - max(window.start, seen.start)
    return shared > 0.5 * (window.end - window.start)


@dataclass(frozen=True)
class Judgement:
    """The LLM's reading of whether the passages answer the question."""

    answerable: bool
    passage: int | None  # [n] of the passage it says answers, when it names one


def condense_messages(question: str, history: Sequence[tuple[str, str]]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    turns = []
    for asked, answered in history[-_HISTORY_TURNS:]:
        turns.append(
            f"User: {asked}\nAssistant: {_strip_markers(answered)[:_HISTORY_ANSWER_CHARS]}"
        )
    user = "Conversation:\n" + "\n".join(turns) + f"\n\nLast question: {question}\nStandalone:"
    return [
        ChatMessage(role="system", content=CONDENSE_SYSTEM),
        ChatMessage(role="user", content=user),
    ]


class Generator:
    """The LLM behind one `LLMSettings`; thread-safe (one HTTP client shared by sessions)."""

    def __init__(self, settings: LLMSettings) -> None:
        if not settings.base_url:
            raise LLMError(
                "no LLM is configured; set PAPERTRAIL_LLM__BASE_URL (e.g. "
                "http://127.0.0.1:11434/v1 for Ollama) or use the extractive mode"
            )
        self.settings = settings
        self._llm: OpenAILike | None = None

    @property
    def where(self) -> str:
        return "the local model" if self.settings.local else f"the LLM at {self.settings.base_url}"

    def llm(self) -> OpenAILike:
        if self._llm is None:
            from llama_index.llms.openai_like import OpenAILike

            s = self.settings
            key = s.api_key.get_secret_value() if s.api_key else ""
            self._llm = OpenAILike(
                model=s.model,
                api_base=s.base_url,
                # An explicit value, so OPENAI_API_KEY is never sent to another endpoint.
                api_key=key or "none",
                timeout=s.timeout_s,
                max_retries=0,  # a failure falls back to the extractive answer at once
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                is_chat_model=True,
                context_window=8192,
            )
        return self._llm

    def stream(self, messages: Sequence[ChatMessage]) -> Generator_[str, None, str]:
        """The answer's text as it is generated; returns the finish reason ("stop",
        "length" ...). LLMError when it cannot be completed."""
        reason = ""
        try:
            for chunk in self.llm().stream_chat(list(messages)):
                if chunk.delta:
                    yield chunk.delta
                choices = getattr(chunk.raw, "choices", None) or []
                if choices and choices[0].finish_reason:
                    reason = str(choices[0].finish_reason)
        except LLMError:
            raise
        except Exception as exc:  # the client's and the transport's errors, all one line
            raise LLMError(self._describe(exc)) from None
        if not reason:
            raise LLMError(f"{self.where} stopped before finishing its answer (stream cut off)")
        return reason

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        try:
            response = self.llm().chat(list(messages))
        except Exception as exc:
            raise LLMError(self._describe(exc)) from None
        return (response.message.content or "").strip()

    def judge(self, question: str, passages: Sequence[Passage]) -> Judgement:
        """Whether `passages` answer `question`, as constrained JSON (temperature 0).
        LLMError when the LLM cannot be asked or says something else."""
        if self.settings.local:  # llama-cpp-python's form of a JSON-schema response
            fmt: dict[str, Any] = {"type": "json_object", "schema": JUDGE_SCHEMA}
        else:  # OpenAI's, which vLLM, Ollama and LM Studio follow
            schema = {"name": "judgement", "schema": JUDGE_SCHEMA}
            fmt = {"type": "json_schema", "json_schema": schema}
        try:
            response = self.llm().chat(
                judge_messages(question, passages),
                response_format=fmt,
                temperature=0.0,
                max_tokens=24,
            )
        except Exception as exc:
            raise LLMError(self._describe(exc)) from None
        text = (response.message.content or "").strip()
        try:
            data = json.loads(text)
            answerable = data["answerable"]
            passage = int(data.get("passage") or 0)
        except (ValueError, TypeError, KeyError):
            raise LLMError(f"{self.where} judged in a form that is not the JSON asked") from None
        if not isinstance(answerable, bool):
            raise LLMError(f"{self.where} judged in a form that is not the JSON asked")
        return Judgement(answerable, passage if 1 <= passage <= len(passages) else None)

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """The follow-up `question` rewritten to stand alone (unchanged without history)."""
        if not history:
            return question
        text = self.complete(condense_messages(question, history))
        line = next((x.strip() for x in text.splitlines() if x.strip()), "")
        line = re.sub(r"^(standalone( question)?|question)\s*:\s*", "", line, flags=re.I)
        line = line.strip().strip('"').strip()
        return line if 3 <= len(line) <= 2000 else question

    def _describe(self, exc: BaseException) -> str:
        """One line naming what went wrong; no response body (it may echo the key)."""
        import httpx
        import openai

        timeout = f"{self.settings.timeout_s:g} s"
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return f"{self.where} did not answer within {timeout}"
        if isinstance(exc, openai.APIStatusError):
            hint = {
                401: " (check PAPERTRAIL_LLM__API_KEY)",
                403: " (check PAPERTRAIL_LLM__API_KEY)",
                404: " (check PAPERTRAIL_LLM__BASE_URL and PAPERTRAIL_LLM__MODEL)",
            }.get(exc.status_code, "")
            return f"{self.where} answered HTTP {exc.status_code}{hint}"
        if isinstance(exc, openai.APIConnectionError | httpx.ConnectError):
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, httpx.TimeoutException):
                return f"{self.where} did not answer within {timeout}"
            if isinstance(cause, httpx.RemoteProtocolError):
                return f"{self.where} broke off its answer (stream cut off)"
            return f"cannot reach {self.where}"
        if isinstance(exc, httpx.HTTPError):
            return f"{self.where} broke off its answer (stream cut off)"
        return f"{self.where} sent a malformed answer ({type(exc).__name__})"


def _strip_markers(text: str) -> str:
    return " ".join(re.sub(r"\[\d+(?:\s*[,–-]\s*\d+)*\]", "", text).split())
