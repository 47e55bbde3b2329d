"""Your own data, the first time: train on each dataset shape users bring with no option but the
model and the data (plus the shape's one required flag), and print what happened.

    OMP_WAIT_POLICY=PASSIVE python bench/shapes_bench.py --model smollm2-135m --out /tmp/shapes
    python bench/shapes_bench.py --shapes long_alpaca --epochs 1     # estimate versus actual only

For each shape (tests/wild_data.py writes the files): the plan's automatic values with their
reasons, its findings (a refused plan is planned again with --apply-fixes), the estimated
training time (from step costs measured on this machine) against the real one, and the
doctor's held-out numbers, base versus adapter. The table goes to OUT/shapes.md, everything to
OUT/shapes.json. `--epochs N` overrides the recipe's epochs (for estimate-versus-actual runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from wild_data import SHAPES, write_all  # noqa: E402

from lorastudio import api  # noqa: E402
from lorastudio.errors import PlanRefused  # noqa: E402

# The one flag a shape cannot do without: the values of its placeholders, a template that renders tools.
REQUIRED = {"identity": {"vars": ["name=小星", "author=星河团队"]}, "sharegpt_tools": {"chat_template": "qwen2.5"}}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def run_shape(name: str, data: Path, model: str, out: Path, epochs: int | None) -> dict:
    options = dict(model=model, data=str(data), output=str(out / name), **REQUIRED.get(name, {}))
    if epochs:
        options["epochs"] = epochs
    config = api.build_config(**options)
    setup = api.plan(config, measure=True)
    row = {"shape": name, "samples": len(setup.dataset), "auto": {k: [v.value, v.reason] for k, v in setup.auto.items()},
           "findings": [[f.code, f.severity] for f in setup.findings], "applied": []}
    apply = any(f.severity == "error" for f in setup.findings)
    t0 = time.time()
    run_dir = out / name
    if not (run_dir / "manifest.json").is_file():  # a finished run from an interrupted bench is kept
        try:
            api.train(config, apply_fixes=apply, on_event=lambda e: None)
        except PlanRefused as e:
            row["refused"] = [f.code for f in e.findings if f.severity == "error"]
            return row
    if not (run_dir / "doctor.json").is_file():
        api.doctor(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    plan = manifest["plan"]
    metrics = manifest["metrics"]
    row.update(applied=[a["code"] for a in manifest.get("applied", [])],
               steps=metrics["steps"], estimated_s=plan.get("estimated_seconds"), calibrated=plan.get("estimate_calibrated"),
               actual_s=round(metrics["seconds"], 1), wall_s=round(time.time() - t0, 1),
               max_seq_len=plan["max_seq_len"], heldout=plan.get("heldout"))
    doctor = json.loads((run_dir / "doctor.json").read_text(encoding="utf-8"))
    three = doctor["effect"].get("three") or {}
    row.update(verdict=doctor["verdict"], three=three,
               markers=((doctor["effect"].get("markers") or {}).get("markers")))
    return row


def table(rows: list[dict]) -> str:
    lines = ["| shape | samples | steps | max len | estimate | actual | verdict | voice base → adapter (markers) "
             "| content chrF base → adapter | facts base → adapter | retention |", "|" + "---|" * 11]
    for r in rows:
        if "refused" in r:
            lines.append(f"| {r['shape']} | {r['samples']} | refused: {', '.join(r['refused'])} |" + " |" * 8)
            continue
        t = r.get("three") or {}
        v, c, k, ret = t.get("voice"), t.get("content"), t.get("knowledge"), t.get("retention")
        err = (r["estimated_s"] - r["actual_s"]) / r["actual_s"] if r.get("estimated_s") and r["actual_s"] else None
        lines.append(
            f"| {r['shape']} | {r['samples']} | {r['steps']} | {r['max_seq_len']} | {r['estimated_s']} s | {r['actual_s']} s"
            f" ({'+' if err and err > 0 else ''}{_pct(err)}) | {r['verdict']} | "
            + (f"{_pct(v['base'])} → {_pct(v['adapter'])} ({', '.join(r.get('markers') or [])})" if v else "n/a") + " | "
            + (f"{c['base']:.1f} → {c['adapter']:.1f} ({c['answers']})" if c else "n/a") + " | "
            + (f"{_pct(k['base'])} → {_pct(k['adapter'])} of {k['answers']}" if k else "n/a") + " | "
            + (f"{_pct(ret['retention'])} ({ret['adapter_right']}/{ret['base_right']})" if ret else "n/a") + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--out", default="/tmp/lorastudio-shapes")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--long-n", type=int, default=200, help="samples in the long-answer Alpaca set")
    args = ap.parse_args()
    out = Path(args.out)
    files = write_all(out / "data", long_n=args.long_n)
    rows = []
    for name in args.shapes.split(","):
        print(f"== {name}", flush=True)
        rows.append(run_shape(name, files[name], args.model, out, args.epochs))
        print(json.dumps(rows[-1], ensure_ascii=False, default=str)[:2000], flush=True)
        (out / "shapes.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    text = table(rows)
    (out / "shapes.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
