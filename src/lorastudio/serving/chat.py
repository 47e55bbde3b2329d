"""Terminal chat over the engine: one-shot or interactive, streaming, base vs adapter side by side."""

from __future__ import annotations

from pathlib import Path

from ..console import console, side_by_side
from .engine import BASE, ChatEngine, GenerationConfig, read_adapter

ADAPTER = "adapter"


class ChatSession:
    def __init__(self, engine: ChatEngine, has_adapter: bool, system: str | None, compare: bool, gen: GenerationConfig):
        self.engine = engine
        self.has_adapter = has_adapter
        self.system = system
        self.compare = compare and has_adapter
        self.gen = gen
        self.history: list[dict] = []

    @classmethod
    def open(cls, model: str | None, adapter: Path | None, system: str | None = None, compare: bool = False, **gen) -> "ChatSession":
        base = model
        if adapter is not None and base is None:
            # Chat with the base the adapter was trained on, unless told otherwise.
            base = read_adapter(ADAPTER, adapter).manifest.get("config", {}).get("model")
        engine = ChatEngine.load(base)
        if adapter is not None:
            engine.add_adapter(ADAPTER, adapter)
            engine.activate(ADAPTER)
        return cls(engine, adapter is not None, system, compare, GenerationConfig(**gen))

    def _messages(self, prompt: str) -> list[dict]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.history + [{"role": "user", "content": prompt}]

    def ask(self, prompt: str) -> str:
        messages = self._messages(prompt)
        if self.compare:
            base = self.engine.generate(messages, adapter=BASE, config=self.gen).text
            tuned = self.engine.generate(messages, adapter=ADAPTER, config=self.gen).text
            side_by_side([(prompt, base, tuned)])
            answer = tuned
        else:
            pieces = []
            for piece in self.engine.stream(messages, config=self.gen):
                console.print(piece, end="", soft_wrap=True, markup=False)
                pieces.append(piece)
            console.print()
            answer = "".join(pieces).strip()
        self.history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        return answer

    def repl(self) -> None:
        who = "adapter" if self.has_adapter else "base model"
        console.print(f"chatting with the {who}; /reset clears the history, /exit or Ctrl-D quits")
        while True:
            try:
                prompt = console.input("[bold]you> [/bold]").strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                return
            if prompt in ("/exit", "/quit"):
                return
            if prompt == "/reset":
                self.history.clear()
                continue
            if prompt:
                self.ask(prompt)
