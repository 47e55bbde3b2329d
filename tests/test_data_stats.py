"""Dataset stats on a small hand-made dataset, with every expected number worked out by hand.

Token numbers use a tiny word-level tokenizer built here with a ChatML template, so each word is
one token and a rendered message is `<|im_start|> role words... <|im_end|>` (3 + words tokens).
"""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from lorastudio.data.readers import load_dataset
from lorastudio.data.records import Dataset, Sample
from lorastudio.data.stats import format_inspect_report, inspect_dataset, percentiles
from lorastudio.errors import StudioError

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def word_tokenizer(chat_template: str | None = CHATML):
    specials = ["[UNK]", "<|im_start|>", "<|im_end|>"]
    words = "system user assistant hello world hi there be kind x".split()
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials + words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<|im_end|>",
                                 additional_special_tokens=["<|im_start|>"])
    hf.chat_template = chat_template
    return hf


def u(text):
    return {"role": "user", "content": text}


def a(text):
    return {"role": "assistant", "content": text}


def s(text):
    return {"role": "system", "content": text}


#        prompt chars (system+user)   response chars (assistant)   tokens: total / trainable / prompt
CONVERSATIONS = [
    ([u("hello world"), a("hi there")], "greet"),                 # 11,  8   10 / 3 / 7
    ([s("be kind"), u("hello"), a("hi")], "greet"),               # 12,  2   13 / 2 / 11
    ([u("hello world"), a("hi there")], "chat"),                  # 11,  8   10 / 3 / 7   duplicate of 0
    ([u("hi"), a("hello"), u("world"), a("x")], None),            #  7,  6   16 / 4 / 12  multi-turn, short "x"
    ([u("there"), a("hello world hello world")], None),           #  5, 23   11 / 5 / 6
]


@pytest.fixture
def ds():
    samples = [Sample(messages=m, index=i, category=c) for i, (m, c) in enumerate(CONVERSATIONS)]
    return Dataset(path="hand.jsonl", format="messages", samples=samples, sha256="ab" * 32)


def test_percentiles_are_nearest_rank():
    assert percentiles([10, 1, 3, 2]) == {"p50": 2, "p95": 10, "max": 10}
    assert percentiles([7]) == {"p50": 7, "p95": 7, "max": 7}
    assert percentiles(list(range(1, 101))) == {"p50": 50, "p95": 95, "max": 100}
    assert percentiles([]) == {"p50": 0, "p95": 0, "max": 0}


def test_counts_categories_duplicates_and_short_responses(ds):
    st = inspect_dataset(ds)
    assert (st["path"], st["format"], st["n_samples"]) == ("hand.jsonl", "messages", 5)
    assert st["n_turns"] == 6  # assistant turns: 1 + 1 + 1 + 2 + 1
    assert st["multi_turn"] == 1
    assert st["categories"] == {"greet": 2, "chat": 1, "(none)": 2}
    assert st["duplicates"] == {"count": 1, "pairs": [[0, 2]]}
    assert st["short_responses"] == {"count": 1, "indices": [3]}


def test_char_lengths(ds):
    st = inspect_dataset(ds)
    # prompts sorted [5, 7, 11, 11, 12]: p50 is the 3rd (ceil(0.5*5)), p95 the 5th (ceil(0.95*5))
    assert st["chars"]["prompt"] == {"p50": 11, "p95": 12, "max": 12}
    # responses sorted [2, 6, 8, 8, 23]
    assert st["chars"]["response"] == {"p50": 8, "p95": 23, "max": 23}
    assert st["tokens"] is None


def test_stats_are_json_serialisable(ds):
    st = inspect_dataset(ds, word_tokenizer(), max_seq_len=11)
    assert json.loads(json.dumps(st)) == st


def test_no_categories_gives_empty_dict():
    ds = Dataset("x.json", "alpaca", [Sample([u("q"), a("r")], 0)])
    assert inspect_dataset(ds)["categories"] == {}


def test_token_lengths_through_the_training_formatter(ds):
    tokens = inspect_dataset(ds, word_tokenizer())["tokens"]
    assert tokens["prompt"] == {"p50": 7, "p95": 12, "max": 12}  # sorted [6, 7, 7, 11, 12]
    assert tokens["response"] == {"p50": 3, "p95": 5, "max": 5}  # sorted [2, 3, 3, 4, 5]
    assert tokens["total"] == {"p50": 11, "p95": 16, "max": 16}  # sorted [10, 10, 11, 13, 16]
    assert tokens["sum"] == 60
    assert tokens["truncated"] == {"count": 0, "indices": []}
    assert tokens["zero_trainable"] == {"count": 0, "indices": []}
    assert tokens["no_end_of_turn"]["count"] == 0


def test_truncation_and_zero_trainable_at_max_seq_len(ds):
    tokens = inspect_dataset(ds, word_tokenizer(), max_seq_len=11)["tokens"]
    # longer than 11: record 1 (13) and record 3 (16); record 4 is exactly 11 and fits
    assert tokens["truncated"] == {"count": 2, "indices": [1, 3]}
    # record 1's first 11 tokens are system (5) + user (4) + "<|im_start|> assistant": no answer left;
    # record 3 keeps its first answer ("hello <|im_end|>" at positions 7-8)
    assert tokens["zero_trainable"] == {"count": 1, "indices": [1]}
    assert tokens["max_seq_len"] == 11
    # the untruncated lengths are still reported
    assert tokens["total"]["max"] == 16


def test_tokenizer_without_chat_template_is_a_user_error(ds):
    with pytest.raises(StudioError, match="chat template"):
        inspect_dataset(ds, word_tokenizer(chat_template=None))


def test_report_shows_the_numbers(ds):
    text = format_inspect_report(inspect_dataset(ds, word_tokenizer(), max_seq_len=11))
    rows = {line[:16].strip(): line[16:].split() for line in text.splitlines()}
    assert rows["prompt chars"] == ["11", "12", "12"]
    assert rows["response chars"] == ["8", "23", "23"]
    assert rows["prompt tokens"] == ["7", "12", "12"]
    assert rows["response tokens"] == ["3", "5", "5"]
    assert rows["total tokens"] == ["11", "16", "16"]
    assert "5 samples, 6 assistant turns (1 multi-turn)" in text
    assert "categories  greet 2, chat 1, (none) 2" in text
    assert "truncated at max_seq_len 11: 2 (records 1, 3)" in text
    assert "no trainable tokens at max_seq_len 11: 1 (records 1)" in text
    assert "exact duplicates (same prompt and response): 1 (records 2 = 0)" in text
    assert "short responses (< 2 chars): 1 (records 3)" in text


def test_report_without_tokenizer_has_no_token_rows(ds):
    text = format_inspect_report(inspect_dataset(ds))
    assert "prompt chars" in text and "tokens" not in text


def test_inspect_a_loaded_file(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"instruction": "hello", "input": "world", "output": "hi"}, {"instruction": "你好", "output": "嗨"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    st = inspect_dataset(load_dataset(path))
    assert (st["path"], st["format"], st["n_samples"]) == (str(path), "alpaca", 2)
    # "hello\n\nworld" is 12 characters; "你好" is 2 (characters, not bytes)
    assert st["chars"]["prompt"] == {"p50": 2, "p95": 12, "max": 12}
    assert st["short_responses"] == {"count": 1, "indices": [1]}  # "嗨" is one character
