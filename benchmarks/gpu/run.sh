#!/usr/bin/env bash
# Builds what the GPU benchmark needs on a CUDA machine that has no .NET SDK (../../shared/gpu/README.md):
# a self-contained, trimmed linux-x64 publish of benchmarks/ModelCompiler.GpuBenchmarks, the PyTorch script and the
# MLP's and the decoder's weights, in one ~24 MB tarball (the samples' weights are embedded), out/gpu/gpu.tar.xz. Then, on the GPU machine (the device tool's `run`, with
# carry ["out/gpu/gpu.tar.xz"]):   bash benchmarks/gpu/device.sh
# which writes $OUT/gpu-results.md: ModelCompiler's figures, and PyTorch eager and torch.compile on the same models.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf out/gpu && mkdir -p out/gpu
# Trimming (partial) and invariant globalization are set in the project.
dotnet publish benchmarks/ModelCompiler.GpuBenchmarks -c Release -r linux-x64 --self-contained -o out/gpu/pub >/dev/null
cp benchmarks/gpu/torch_bench.py benchmarks/gpu/torch_llama.py benchmarks/ModelCompiler.Benchmarks/Models/mlp784.safetensors \
  samples/TextGeneration/docs_llama.safetensors out/gpu/pub/
rm -f out/gpu/pub/*.pdb out/gpu/pub/*.xml  # symbols and docs are not needed there
tar -cJf out/gpu/gpu.tar.xz -C out/gpu pub
ls -la out/gpu/gpu.tar.xz
