"""The configured LLM: a cited answer written from numbered passages, and follow-ups condensed.

Any OpenAI-compatible endpoint (Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI) through
LlamaIndex's `OpenAILike`. Nothing here judges the answer: rag.verify checks each sentence.
Every failure becomes an `LLMError` with a one-line message that names the endpoint, never
the API key, so clients can show it as a notice.
"""

from __future__ import annotations

import re
from collections.abc import Generator as Generator_
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from index.errors import PaperTrailError
from index.models import Passage
from index.settings import LLMSettings

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

__all__ = ["Generator", "LLMError", "answer_messages", "condense_messages"]

# How much of each passage the prompt carries; the answerer's chunks are ~1000 characters.
_PASSAGE_CHARS = 1500
_HISTORY_TURNS = 3  # earlier exchanges shown when condensing a follow-up
_HISTORY_ANSWER_CHARS = 600

ANSWER_SYSTEM = (
    "You answer questions about scientific articles using only the numbered passages given. "
    "Write a short answer of at most {sentences} sentences in plain prose (no lists, no "
    "headings). End every sentence with the number of the passage that states it, in square "
    "brackets, like [1] or [2][3]. Cite only passages that state what the sentence says; "
    "copy numbers, units and names exactly as the passage gives them. If the passages do not "
    "answer the question, say so in one sentence."
)
CONDENSE_SYSTEM = (
    "Rewrite the user's last question as one standalone question that can be understood "
    "without the conversation. Replace pronouns and references such as 'they' or 'the "
    "ethical ones' with what they refer to. If the question already stands alone, return it "
    "unchanged. Reply with the question only."
)


class LLMError(PaperTrailError):
    """The LLM could not give a complete answer (unreachable, timeout, HTTP error, bad stream)."""


def answer_messages(question: str, passages: Sequence[Passage], sentences: int) -> list[Any]:
    """The chat prompt: the passages numbered [1]..[n], then the question."""
    from llama_index.core.llms import ChatMessage

    blocks = []
    for n, p in enumerate(passages, start=1):
        where = ", ".join(
            x
            for x in (p.title, f"p. {p.page_label or p.page}", p.section and f"§ {p.section}")
            if x
        )
        text = " ".join(p.text.split())[:_PASSAGE_CHARS]
        blocks.append(f"[{n}] ({where})\n{text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"
    return [
        ChatMessage(role="system", content=ANSWER_SYSTEM.format(sentences=sentences)),
        ChatMessage(role="user", content=user),
    ]


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
        return f"the LLM at {self.settings.base_url}"

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
