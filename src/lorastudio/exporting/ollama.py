"""An Ollama Modelfile whose TEMPLATE, SYSTEM and stop tokens reproduce the training template.

Ollama does not run Jinja: its TEMPLATE is a Go template over `.Messages`. We read the
training template's pieces off renders of conversations whose contents are sentinels, each
render one message longer than the last:

    [system S]                      head sys_pre S sys_post
    [system S, user U]              ... user_pre U user_post
    ... add_generation_prompt       ... asst_pre
    [system S, user U, asst A, U2]  ... A asst_post user_pre U2 user_post

and a conversation without a system message tells whether the template writes a default
system prompt (SmolLM2 and Qwen2.5 do): that becomes the Modelfile's SYSTEM line, which
Ollama sends as a system message whenever a request has none, as the template did. The
pieces are then checked by re-rendering a few conversations from them and comparing with
Jinja; a template whose turns do not decompose this way is refused, not approximated.

A start-of-text token the template writes is left out when the tokenizer adds it anyway
(llama.cpp does so from `add_bos_token`): otherwise the prompt would start with it twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.formatting import render_chat
from ..errors import ExportError

S, U1, A1, U2 = "SYSQ7", "USRQ7A", "ASTQ7A", "USRQ7B"
REFUSE_FIX = "use `--format gguf` and set the chat template in your runtime by hand"


@dataclass
class TemplateParts:
    head: str  # written once before everything
    sys_pre: str
    sys_post: str
    user_pre: str
    user_post: str
    asst_pre: str  # the generation prompt
    asst_post: str
    default_system: str | None  # the system turn's content when a conversation has none

    def render(self, messages: list[dict]) -> str:
        """What the Go template below renders, Ollama's SYSTEM injection included, in Python."""
        if messages[0]["role"] != "system" and self.default_system is not None:
            messages = [{"role": "system", "content": self.default_system}] + messages
        out = self.head
        for i, m in enumerate(messages):
            last = i == len(messages) - 1
            if m["role"] == "system":
                out += self.sys_pre + m["content"] + self.sys_post
            elif m["role"] == "user":
                out += self.user_pre + m["content"] + self.user_post + (self.asst_pre if last else "")
            else:
                out += self.asst_pre + m["content"] + ("" if last else self.asst_post)
        return out


def _refuse(what: str) -> ExportError:
    return ExportError(f"the chat template {what}, so an Ollama TEMPLATE cannot reproduce it", fix=REFUSE_FIX)


def _after(text: str, prefix: str, what: str) -> str:
    if not text.startswith(prefix):
        raise _refuse(what)
    return text[len(prefix):]


def template_parts(tokenizer, chat_template: str, bos_added: bool) -> TemplateParts:
    """Read the pieces off renders that grow one message at a time (the same prefix property
    training's loss masking relies on), then check them against the template."""
    bos = tokenizer.bos_token if bos_added and tokenizer.bos_token else ""

    def render(messages, gen=False):
        text = render_chat(tokenizer, messages, add_generation_prompt=gen, chat_template=chat_template)
        return text[len(bos):] if bos and text.startswith(bos) else text

    s, u1, a1, u2 = ({"role": r, "content": c} for r, c in
                     (("system", S), ("user", U1), ("assistant", A1), ("user", U2)))
    r_s, r_su, r_sug, r_suau = render([s]), render([s, u1]), render([s, u1], True), render([s, u1, a1, u2])
    user_pre, _, user_post = _after(r_su, r_s, "renders a user turn differently after a system turn").partition(U1)
    asst_pre = _after(r_sug, r_su, "does not append its generation prompt to the conversation")
    history = _after(r_suau, r_sug, "renders an answered turn differently from its generation prompt")
    user_piece = user_pre + U2 + user_post
    if not asst_pre or not history.startswith(A1) or not history.endswith(user_piece):
        raise _refuse("renders the assistant turn around its content in a way that is not prefix, answer, suffix")
    asst_post = history[len(A1): len(history) - len(user_piece)]
    before_s, found, sys_post = r_s.partition(S)
    if not found:
        raise _refuse("drops the system message")
    r_u = render([u1])
    if r_u.endswith(user_pre + U1 + user_post) and before_s.startswith(r_u[: len(r_u) - len(user_pre + U1 + user_post)]):
        head = r_u[: len(r_u) - len(user_pre + U1 + user_post)]
        default = None
    elif r_u.startswith(before_s) and r_u.endswith(sys_post + user_pre + U1 + user_post):
        # Every conversation opens with a system turn; only a start token is written once before
        # it, and not one that opens every turn (SmolLM2's bos token is <|im_start|>).
        start = tokenizer.bos_token or ""
        head = start if start and before_s.startswith(start) and not user_pre.startswith(start) else ""
        default = r_u[len(before_s): len(r_u) - len(sys_post + user_pre + U1 + user_post)]
    else:
        raise _refuse("writes something for a conversation without a system message that is not a system turn")
    parts = TemplateParts(head, before_s[len(head):], sys_post, user_pre, user_post, asst_pre, asst_post, default)
    _check(parts, render)
    return parts


def _check(parts: TemplateParts, render) -> None:
    """Re-render chat conversations (each ends with a user turn) from the pieces, compare with Jinja."""
    conversations = [
        [{"role": "user", "content": "你好"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
        [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
         {"role": "user", "content": "c"}],
    ]
    for messages in conversations:
        want, got = render(messages, True), parts.render(messages)
        if got != want:
            raise ExportError(f"an Ollama TEMPLATE built from the chat template renders {messages!r} as {got!r}; "
                              f"training rendered {want!r}", fix=REFUSE_FIX)


def _go_literal(text: str) -> str:
    return text.replace("{{", '{{ "{{" }}')


def go_template(parts: TemplateParts) -> str:
    """Ollama's TEMPLATE: one branch per role; after the last user turn, the generation prompt.
    No `{{-` trimming anywhere: it would also eat the newlines the pieces end with. A template
    that writes an empty system turn when there is none (Llama 3.1 does) keeps doing so here,
    since Ollama injects no empty SYSTEM."""
    lit = _go_literal
    always = ""
    if parts.default_system == "":
        always = ('{{ if or (not .Messages) (ne (index .Messages 0).Role "system") }}'
                  f"{lit(parts.sys_pre)}{lit(parts.sys_post)}{{{{ end }}}}")
    return (
        f"{lit(parts.head)}{always}"
        "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
        f'{{{{ if eq .Role "system" }}}}{lit(parts.sys_pre)}{{{{ .Content }}}}{lit(parts.sys_post)}'
        f'{{{{ else if eq .Role "user" }}}}{lit(parts.user_pre)}{{{{ .Content }}}}{lit(parts.user_post)}'
        f"{{{{ if $last }}}}{lit(parts.asst_pre)}{{{{ end }}}}"
        f'{{{{ else if eq .Role "assistant" }}}}{lit(parts.asst_pre)}{{{{ .Content }}}}'
        f"{{{{ if not $last }}}}{lit(parts.asst_post)}{{{{ end }}}}"
        "{{ end }}{{ end }}"
    )


def stop_tokens(parts: TemplateParts, tokenizer) -> list[str]:
    """The special tokens that end an assistant turn: in its closing piece, and the eos token."""
    special = set(tokenizer.all_special_tokens) | {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    stops = [t for t in sorted(special, key=len, reverse=True) if t and t in parts.asst_post]
    if tokenizer.eos_token and tokenizer.eos_token not in stops:
        stops.append(tokenizer.eos_token)
    return stops


def modelfile(parts: TemplateParts, tokenizer, from_line: str, adapter: str | None = None) -> str:
    template = go_template(parts)
    if '"""' in template or (parts.default_system and '"""' in parts.default_system):
        raise ExportError('the chat template contains """, which a Modelfile cannot quote',
                          fix="use `--format gguf` and set the template in your runtime by hand")
    lines = ["# Written by LoRA Studio. Create the model with:  ollama create NAME -f Modelfile", f"FROM {from_line}"]
    if adapter:
        lines.append(f"ADAPTER {adapter}")
    lines.append(f'TEMPLATE """{template}"""')
    if parts.default_system:
        lines.append(f'SYSTEM """{parts.default_system}"""')
    lines += [f'PARAMETER stop "{s}"' for s in stop_tokens(parts, tokenizer)]
    lines.append("# Greedy, as `lorastudio chat` answers by default; remove for sampled answers.")
    lines.append("PARAMETER temperature 0")
    return "\n".join(lines) + "\n"
