"""How long the CLI takes to answer when no model is needed: help, and mistakes in the input.

Each command runs in a fresh process, `--repeats` times; the median wall time is printed with the
exit code (a mistake must exit 2 with its message, not a traceback). Every one of these returns
before torch is imported (tests/test_layout.py asserts that `import lorastudio.cli` does not
import it), so the time is Python's start-up plus the CLI's own imports.

    OMP_WAIT_POLICY=PASSIVE python bench/cli_startup.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [
    ("lorastudio --help", ["--help"]),
    ("lorastudio train --help", ["train", "--help"]),
    ("data inspect on a missing file", ["data", "inspect", "/nonexistent/data.json"]),
    ("plan --data on a missing file", ["plan", "--data", "/nonexistent/data.json"]),
    ("train --data on a missing file", ["train", "--data", "/nonexistent/data.json"]),
    ("train with a bad number (--lr abc)", ["train", "--data", "d.json", "--lr", "abc"]),
    ("data inspect on a broken JSON file", ["data", "inspect", "{broken}"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("lorastudio") or str(Path(sys.executable).with_name("lorastudio"))
    broken = Path(tempfile.mkdtemp()) / "broken.json"
    broken.write_text('[{"instruction": "hi", "output": ', encoding="utf-8")
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    print(f"load average before: {os.getloadavg()[0]:.2f}; OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}")
    print("\n| command | median s (runs) | exit code |\n|---|---|---|")
    for label, argv in COMMANDS:
        argv = [str(broken) if a == "{broken}" else a for a in argv]
        times, codes = [], set()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            p = subprocess.run([exe, *argv], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t0)
            codes.add(p.returncode)
            if "Traceback" in p.stderr:
                sys.exit(f"{label}: a traceback\n{p.stderr[-2000:]}")
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| `{label}` | **{statistics.median(times):.2f}** ({runs}) | {', '.join(map(str, sorted(codes)))} |")


if __name__ == "__main__":
    main()
