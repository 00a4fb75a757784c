"""PyTorch eager and torch.compile on the GPU benchmark's models (benchmarks/gpu/device.sh runs it beside the
ModelCompiler benchmark): the 784-512-256-10 MLP with the same weights (read from the safetensors file without the
safetensors package), at batches 1, 64 and 4096, and torch.matmul at 4096^3 fp32 (TF32 off). Prints a markdown table.
Each figure is the median of synchronized runs after a warm-up, timed with CUDA events."""
import json
import struct
import sys
import time

import torch


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(info["shape"])
    return tensors


def median_ms(fn, runs=200):
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    w = load(sys.argv[1])
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    with torch.no_grad():
        for i, name in ((0, "fc1"), (2, "fc2"), (4, "fc3")):
            mlp[i].weight.copy_(w[name + ".weight"])
            mlp[i].bias.copy_(w[name + ".bias"])
    mlp = mlp.cuda().eval()
    print("| measurement | value |")
    print("|---|---:|")
    print(f"| device | {torch.cuda.get_device_name()} (torch {torch.__version__}) |")
    with torch.no_grad():
        for batch in (1, 64, 4096):
            x = torch.randn(batch, 784, device="cuda")
            print(f"| MLP batch {batch}, eager (µs) | {median_ms(lambda: mlp(x)) * 1000:.1f} |")
        try:
            start = time.perf_counter()
            compiled = torch.compile(mlp)
            x = torch.randn(64, 784, device="cuda")
            compiled(x)
            torch.cuda.synchronize()
            print(f"| MLP torch.compile first call (ms) | {(time.perf_counter() - start) * 1000:.0f} |")
            for batch in (1, 64, 4096):
                x = torch.randn(batch, 784, device="cuda")
                print(f"| MLP batch {batch}, torch.compile (µs) | {median_ms(lambda: compiled(x)) * 1000:.1f} |")
        except Exception as e:  # torch.compile needs a working Triton; report instead of failing the run
            print(f"| torch.compile | failed: {type(e).__name__} |")
        a = torch.randn(4096, 4096, device="cuda")
        b = torch.randn(4096, 4096, device="cuda")
        ms = median_ms(lambda: a @ b, runs=20)
        print(f"| torch.matmul 4096³ fp32 (TFLOP/s) | {2 * 4096 ** 3 / (ms / 1000) / 1e12:.2f} |")


if __name__ == "__main__":
    main()
