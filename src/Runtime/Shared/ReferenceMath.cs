// Compiled into both the runtime (the eager reference) and the generator (which runs models at build time to
// calibrate Int8Static), so both compute GELU with the same erf.
using System;

namespace ModelCompiler;

/// <summary>
/// Double-precision functions for the eager reference, chosen for accuracy rather than speed, so that the
/// reference is a better oracle than the float kernels it checks.
/// </summary>
internal static class ReferenceMath
{
    private static readonly double TwoOverSqrtPi = 2.0 / Math.Sqrt(Math.PI);

    /// <summary>
    /// erf(x) to about 1e-14: the Maclaurin series below |x| = 3 (terms stay below e⁹, so cancellation costs
    /// at most 4 of 16 digits), and 1 − erfc(x) from erfc's continued fraction above.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x == 0) return x;
        double ax = Math.Abs(x);
        if (ax < 3.0)
        {
            double sum = 0, term = ax, x2 = ax * ax;
            for (int n = 0; n < 200; n++)
            {
                double contribution = term / (2 * n + 1);
                sum += contribution;
                if (Math.Abs(contribution) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return x < 0 ? -TwoOverSqrtPi * sum : TwoOverSqrtPi * sum;
        }
        // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
        double fraction = ax;
        for (int n = 60; n >= 1; n--) fraction = ax + (n / 2.0) / fraction;
        double erfc = Math.Exp(-ax * ax) / (Math.Sqrt(Math.PI) * fraction);
        return x < 0 ? -(1.0 - erfc) : 1.0 - erfc;
    }

    // The element-wise activations, in double: the eager reference maps them over tensors, calibration runs them, and
    // constant folding applies them to weights at build time, all with these definitions.

    /// <summary><c>max(x, 0)</c>; NaN stays NaN.</summary>
    public static double Relu(double x) => x > 0 ? x : (x <= 0 ? 0 : x);

    /// <summary><c>1 / (1 + e^-x)</c>.</summary>
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>GELU with erf: <c>x/2 · (1 + erf(x/√2))</c>.</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>GELU, PyTorch's tanh approximation.</summary>
    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>SiLU: <c>x / (1 + e^-x)</c>.</summary>
    public static double Silu(double x) => x / (1.0 + Math.Exp(-x));

    /// <summary>The inverse hyperbolic sine (netstandard2.0, where the generator runs, has no Math.Asinh).</summary>
    public static double Asinh(double x) => x < 0 ? -Asinh(-x) : Math.Log(x + Math.Sqrt(x * x + 1));

    /// <summary>The inverse hyperbolic cosine; NaN below 1.</summary>
    public static double Acosh(double x) => Math.Log(x + Math.Sqrt(x * x - 1));

    /// <summary>The inverse hyperbolic tangent.</summary>
    public static double Atanh(double x) => 0.5 * Math.Log((1 + x) / (1 - x));

    /// <summary>ONNX Shrink: x + bias below −lambd, x − bias above lambd, else 0 (NaN gives 0, as onnx's reference).</summary>
    public static double Shrink(double x, float lambd, float bias) => x < -lambd ? x + bias : x > lambd ? x - bias : 0;

    /// <summary>The sign: 1, −1, or the value itself for ±0 and NaN (ONNX Sign).</summary>
    public static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : x;

    /// <summary>log(1 + eˣ), without overflow (ONNX Softplus).</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    /// <summary>x / (1 + |x|) (ONNX Softsign).</summary>
    public static double Softsign(double x) => x / (1 + Math.Abs(x));

    /// <summary>x where x &gt; 0, else alpha · (eˣ − 1) (ONNX Elu; Selu is it times gamma).</summary>
    public static double Elu(double x, double alpha) => x > 0 ? x : alpha * (Math.Exp(x) - 1);
}
