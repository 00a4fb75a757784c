namespace ModelCompiler.TestModels;

/// <summary>
/// The functions of one value after the first set (make_models.py exports the same model from PyTorch): Softplus and Log
/// as a kernel of their own on the input, Elu and Softsign fused into a Linear's store, Abs, Sign, Floor, Ceil and Round
/// of another Linear's output, the larger and the smaller of two activations (Maximum, Minimum), and the trigonometric
/// and hyperbolic functions and their inverses (Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh).
/// </summary>
[CompileModel(Weights = "function_zoo.safetensors")]
public static partial class FunctionZoo
{
    static Tensor Forward([Shape(6)] Tensor x)
    {
        var h = x.Softplus().Log().Linear("a").Elu(0.7f).Softsign(); // [16]
        var g = h.Linear("b");                                        // [8]
        var thrice = g * 3f;
        var larger = g.Maximum(h.Slice(0, 0, 8));
        var smaller = g.Minimum(h.Slice(0, 8, 16));
        var trigonometric = g.Sin().Concat(g.Cos(), 0).Concat(h.Tan(), 0).Concat(g.Sinh(), 0).Concat(g.Cosh(), 0).Concat(thrice.Asinh(), 0)
            .Concat((g.Abs() + 1f).Acosh(), 0).Concat((h * 0.9f).Atanh(), 0)                   // [8 + 8 + 16 + 8 + 8 + 8 + 8 + 16]
            .Concat(h.Asin(), 0).Concat((h * 0.99f).Acos(), 0).Concat(thrice.Atan(), 0);      // [16 + 16 + 8]
        return g.Abs().Concat(g.Sign(), 0).Concat(thrice.Floor(), 0).Concat(thrice.Ceil(), 0).Concat(thrice.Round(), 0)
            .Concat(larger, 0).Concat(smaller, 0).Concat(trigonometric, 0); // [176]
    }
}
