"""Writes the bundled example data next to this file.

The content is hand-written, in _wukong.py (the persona) and _general.py (general knowledge);
this script only checks it and lays it out as files, so that the seed set, the training set,
the probes and the README's count table stay in step.

    python src/lorastudio/examples/_build.py

Outputs (all UTF-8): wukong_seed.json, wukong_train.json, wukong_probes.jsonl,
general_probes.jsonl, general_replay.json, README.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

# Run as a script: this folder is on sys.path, so its sibling content modules import by name.
from _general import GENERAL_PROBES, GENERAL_REPLAY
from _wukong import CATEGORIES, CATEGORY_NOTES, MARKERS, WUKONG, WUKONG_PROBES

HERE = Path(__file__).resolve().parent


def _alpaca(instruction: str, output: str, category: str) -> dict[str, str]:
    return {"instruction": instruction, "input": "", "output": output, "category": category}


def _check() -> None:
    seen: set[str] = set()
    for cat, rows in WUKONG.items():
        assert cat in CATEGORIES, cat
        for ins, out, _ in rows:
            assert ins not in seen, f"duplicate instruction: {ins}"
            seen.add(ins)
            assert any(m in out for m in MARKERS), f"no marker: {out}"
            sentences = [s for s in re.split(r"[。！？!?…]+[”」]?", out) if s.strip()]
            assert len(sentences) <= 4, f"{len(sentences)} sentences: {out}"
    for _, out in GENERAL_REPLAY:
        assert not any(m in out for m in MARKERS), out


def _write_json(name: str, records: list) -> None:
    text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    (HERE / name).write_text(text, encoding="utf-8")


def _write_jsonl(name: str, records: list) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (HERE / name).write_text(text, encoding="utf-8")


README = """\
# Bundled example data: 孙悟空 (the Monkey King)

A small, hand-written dataset for trying LoRA Studio end to end: teach a chat model to
answer in character as 孙悟空 from *Journey to the West* (《西游记》), then check on
held-out questions that it learned the persona *and* the facts, without forgetting
general knowledge.

| File | What it is | Records |
|---|---|---|
| `wukong_seed.json` | Seed samples, one or two per category (Alpaca) | {n_seed} |
| `wukong_train.json` | Training set, includes every seed (Alpaca) | {n_train} |
| `wukong_probes.jsonl` | Held-out persona probes, reworded, not in the training set | {n_probes} |
| `general_probes.jsonl` | Easy general-knowledge questions ({n_gen_en} English, {n_gen_zh} Chinese) | {n_gen} |
| `general_replay.json` | Neutral assistant samples to mix into training (Alpaca, category `general`) | {n_replay} |
| `_build.py` | Writes all of the above from the hand-written content of `_wukong.py` (the persona) and `_general.py` (general knowledge) | |

## Formats

Alpaca files are JSON arrays (UTF-8), each record
`{{"instruction": ..., "input": "", "output": ..., "category": ...}}`.

`wukong_probes.jsonl`, one object per line:
`{{"prompt": ..., "expect_any": [...], "category": ...}}`. `expect_any` lists fact keywords;
an answer is right if it contains any of them. Every keyword occurs in at least one
training answer of the same category. Greeting, thanks/farewell and help probes have no
fact to check, so their list is empty (judge them on the persona markers alone).

`general_probes.jsonl`, one object per line: `{{"prompt": ..., "expect_any": [...], "lang": "en"|"zh"}}`.
Numbers are given both as digits and as words or Chinese numerals.

## The persona

Every training answer contains at least one of the **markers** `俺老孙`, `嘿嘿`, `呔`, so
"does the answer contain a marker" is a cheap test of whether the persona took. Answers
are one to four sentences. Facts are kept the same wherever they appear, so a small model
can learn them: the weapon is always 如意金箍棒 from 东海龙宫, 一万三千五百斤; one
筋斗 is 十万八千里; the 火眼金睛 come from 太上老君's 八卦炉; home is 花果山水帘洞.
The replay samples contain none of the markers.

## Counts per category

| Category | Topic | Train | of which seeds | Probes |
|---|---|---:|---:|---:|
{table}
| **total** | | **{n_train}** | **{n_seed}** | **{n_probes}** |

## Rebuilding

    python src/lorastudio/examples/_build.py

The script checks the data (markers, no duplicate instructions, at most four sentences)
and rewrites every file here, this README included. `tests/test_examples.py` checks the
written files.

## License

Written for this project by its authors; released under the Apache License 2.0, the same
license as LoRA Studio. *Journey to the West* itself is in the public domain; no text
from any translation or adaptation is reproduced here.
"""


KEPT_FROM = "## Grown from the seeds"  # written by `lorastudio data expand`, not by this script


def _kept_sections() -> str:
    """The README's sections this script does not write, kept as they are."""
    path = HERE / "README.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    at = text.find(KEPT_FROM)
    return "\n" + text[at:] if at >= 0 else ""


def main() -> None:
    _check()
    seed = [_alpaca(i, o, c) for c, rows in WUKONG.items() for i, o, s in rows if s]
    train = [_alpaca(i, o, c) for c, rows in WUKONG.items() for i, o, _ in rows]
    probes = [{"prompt": p, "expect_any": e, "category": c} for p, e, c in WUKONG_PROBES]
    general = [{"prompt": p, "expect_any": e, "lang": lang} for p, e, lang in GENERAL_PROBES]
    replay = [_alpaca(i, o, "general") for i, o in GENERAL_REPLAY]

    _write_json("wukong_seed.json", seed)
    _write_json("wukong_train.json", train)
    _write_jsonl("wukong_probes.jsonl", probes)
    _write_jsonl("general_probes.jsonl", general)
    _write_json("general_replay.json", replay)

    n_train = Counter(r["category"] for r in train)
    n_seed = Counter(r["category"] for r in seed)
    n_probe = Counter(r["category"] for r in probes)
    table = "\n".join(
        f"| {c} | {CATEGORY_NOTES[c]} | {n_train[c]} | {n_seed[c]} | {n_probe[c]} |"
        for c in CATEGORIES
    )
    langs = Counter(g["lang"] for g in general)
    (HERE / "README.md").write_text(
        README.format(
            n_seed=len(seed), n_train=len(train), n_probes=len(probes), n_gen=len(general),
            n_gen_en=langs["en"], n_gen_zh=langs["zh"], n_replay=len(replay), table=table,
        ) + _kept_sections(),
        encoding="utf-8",
    )
    print(f"seed={len(seed)} train={len(train)} probes={len(probes)} "
          f"general={len(general)} replay={len(replay)}")
    for c in CATEGORIES:
        print(f"  {c:16s} train={n_train[c]:3d} seed={n_seed[c]} probes={n_probe[c]}")


if __name__ == "__main__":
    main()
