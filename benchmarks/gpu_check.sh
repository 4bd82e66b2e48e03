#!/usr/bin/env bash
# The GPU check of issue #14 / #16, for a machine with a CUDA device (under 8 minutes on one GPU):
# torch feature models, AttentionNet on cached maps, and AttentionNet / GEM-ZSL / BasicNet end to end at
# 448 px (ViT-B/16 at 224 px), with bf16 autocast, beside brief CPU timings. Output: $OUT/gpu_check.{txt,json}
# when $OUT is set (the device tool's folder), else benchmarks/results/gpu_check.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/results}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 470 python benchmarks/gpu_check.py --device cuda --out "$out/gpu_check"
