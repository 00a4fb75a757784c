namespace ModelCompiler.TestModels;

/// <summary>
/// Everything else the DSL offers: 2-D samples, a weight tensor broadcast across rows, scalar arithmetic,
/// Flatten, a constant-bound loop with interpolated names, a helper method, a residual add of two
/// activations, Reshape and a log-softmax over the last dimension.
/// </summary>
[CompileModel(Weights = "zoo.safetensors")]
public static partial class Zoo
{
    static Tensor Forward([Shape(4, 5)] Tensor x)
    {
        var h = x.Linear("proj").Relu();          // [4, 8]
        h = h * x.Parameter("scale") + 0.5f;      // "scale" is [8], broadcast over the 4 rows
        var f = h.Flatten();                      // [32]
        for (int i = 0; i < 2; i++)
            f = f.Linear($"mix{i}").Tanh();
        var y = Head(f, "head");                  // [6]
        y = y + y.Sigmoid();
        return y.Reshape(2, 3).LogSoftmax() * 2f; // [2, 3]
    }

    static Tensor Head(Tensor x, string name) => x.Linear($"{name}.fc").Gelu();
}
