"""Whether two answers to the same request agree. Pure.

The part of an answer compared is picked by a dotted path (`outputs.*.data`: `*` takes every
item of a list), by default the one each runtime's protocol puts the prediction in: the Open
Inference Protocol's `outputs[].data` (the example server, KServe's servers, Triton), and the
generated text of an OpenAI-style answer (`choices[].text` or `choices[].message.content`:
vLLM, llama.cpp). Answers that are equal agree; with a token overlap, two texts agree when the
share of words they have in common (Jaccard) is at least that much.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPENAI = frozenset({"vllm", "llamacpp"})
INFERENCE_PROTOCOL = frozenset({"custom", "triton"})
WORD = re.compile(r"\w+", re.UNICODE)


def default_path(runtime: str) -> str | None:
    if runtime in INFERENCE_PROTOCOL:
        return "outputs.*.data"
    return None  # OpenAI-style answers have their own pick; others are compared whole


def pick(answer: Any, path: str) -> Any:
    """The part of `answer` at a dotted path; `*` maps over a list. Missing: None."""
    def walk(node: Any, keys: list[str]) -> Any:
        if not keys:
            return node
        key, rest = keys[0], keys[1:]
        if key == "*":
            return [walk(x, rest) for x in node] if isinstance(node, list) else None
        if isinstance(node, dict):
            return walk(node.get(key), rest)
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            return walk(node[int(key)], rest)
        return None
    return walk(answer, path.split("."))


def openai_text(answer: Any) -> Any:
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        return answer
    return [c.get("text") if "text" in c else (c.get("message") or {}).get("content")
            for c in answer["choices"] if isinstance(c, dict)]


def prediction(body: bytes, runtime: str, path: str | None) -> Any:
    """What of an answer's body is compared."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    path = path or default_path(runtime)
    if path:
        return pick(answer, path)
    return openai_text(answer) if runtime in OPENAI else answer


def words(x: Any) -> set[str]:
    text = x if isinstance(x, str) else json.dumps(x, sort_keys=True)
    return set(WORD.findall(text.lower()))


def overlap(a: Any, b: Any) -> float:
    """Jaccard similarity of the two answers' words (1.0 for two empty answers)."""
    wa, wb = words(a), words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def agree(a: Any, b: Any, token_overlap: float | None) -> bool:
    if token_overlap is None:
        return bool(a == b)
    return overlap(a, b) >= token_overlap
