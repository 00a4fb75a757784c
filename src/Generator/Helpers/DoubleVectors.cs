using System.Numerics;

namespace ModelCompiler.Generator.Helpers;

/// <summary>
/// Dot products and AXPY over float64 arrays with <see cref="Vector{T}"/> (netstandard2.0 has no
/// System.Runtime.Intrinsics): the build-time arithmetic of calibration and GPTQ, which would otherwise run scalar
/// inside the compiler.
/// </summary>
internal static class DoubleVectors
{
    /// <summary>Σ x[xAt + i] · y[yAt + i] over <paramref name="count"/> values.</summary>
    public static double Dot(double[] x, long xAt, double[] y, long yAt, int count)
    {
        double sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && yAt <= int.MaxValue - count && xAt <= int.MaxValue - count)
        {
            var acc = Vector<double>.Zero;
            for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
                acc += new Vector<double>(x, (int)xAt + i) * new Vector<double>(y, (int)yAt + i);
            sum = Vector.Dot(acc, Vector<double>.One);
        }
        for (; i < count; i++) sum += x[xAt + i] * y[yAt + i];
        return sum;
    }

    /// <summary>y[yAt …] += a · x[xAt …] over <paramref name="count"/> values.</summary>
    public static void Axpy(double[] y, long yAt, double[] x, long xAt, double a, int count)
    {
        if (a == 0) return;
        int i = 0;
        if (Vector.IsHardwareAccelerated && yAt <= int.MaxValue - count && xAt <= int.MaxValue - count)
        {
            var va = new Vector<double>(a);
            for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
                (new Vector<double>(y, (int)yAt + i) + va * new Vector<double>(x, (int)xAt + i)).CopyTo(y, (int)yAt + i);
        }
        for (; i < count; i++) y[yAt + i] += a * x[xAt + i];
    }
}
