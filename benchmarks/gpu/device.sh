#!/usr/bin/env bash
# Runs on the GPU machine (no .NET SDK): unpacks out/gpu/gpu.tar.xz (made by benchmarks/gpu/run.sh), runs the
# ModelCompiler GPU benchmark, then the same models in PyTorch eager and torch.compile when python3 has torch, and
# writes one table to $OUT/gpu-results.md (and each side's raw output beside it).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/out/gpu/results}
mkdir -p "$OUT" /tmp/mc-gpu
tar -xJf out/gpu/gpu.tar.xz -C /tmp/mc-gpu
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || true
timeout 420 /tmp/mc-gpu/pub/ModelCompiler.GpuBenchmarks --out "$OUT" > "$OUT/modelcompiler.log" 2>&1
echo "ModelCompiler benchmark exit code: $?" >> "$OUT/modelcompiler.log"
if python3 -c "import torch" 2>/dev/null; then
  timeout 300 python3 /tmp/mc-gpu/pub/torch_bench.py /tmp/mc-gpu/pub/mlp784.safetensors > "$OUT/torch.md" 2> "$OUT/torch.log"
  # The decoder (issue 17): PyTorch eager with a cache on the device, beside the compiled GPU session.
  { echo; timeout 120 python3 /tmp/mc-gpu/pub/torch_llama.py /tmp/mc-gpu/pub/docs_llama.safetensors; } >> "$OUT/torch.md" 2>> "$OUT/torch.log"
fi
{
  echo "# GPU benchmark: $(cat "$OUT/gpu.txt" 2>/dev/null)"
  echo
  echo "## ModelCompiler (ILGPU, generated kernels)"
  cat "$OUT/modelcompiler-gpu.md" 2>/dev/null || tail -n 30 "$OUT/modelcompiler.log"
  echo
  echo "## PyTorch on the same GPU"
  cat "$OUT/torch.md" 2>/dev/null || echo "(no PyTorch)"
} > "$OUT/gpu-results.md"
cat "$OUT/gpu-results.md"
