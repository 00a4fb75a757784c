
namespace ModelCompiler.GpuBenchmarks;

/// <summary>The 784-512-256-10 MLP of the CPU benchmarks (same weights file), here for its GPU entry point.</summary>
[CompileModel(Weights = "mlp784.safetensors")]
public static partial class Mlp784
{
    static Tensor Forward([Shape(784)] Tensor x) =>
        x.Linear("fc1").Relu()
         .Linear("fc2").Relu()
         .Linear("fc3");
}
