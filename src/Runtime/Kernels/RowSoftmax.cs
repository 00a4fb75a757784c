using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Softmax and log-softmax over the last dimension, one row at a time.</summary>
/// <remarks>
/// Scalar on purpose: classifier heads are a handful of values wide, where a vector path buys nothing.
/// The maximum is subtracted first, so large inputs do not overflow.
/// </remarks>
public static class RowSoftmax
{
    /// <summary>
    /// Effectively computes, for each row, <c>e^(x − max) / Σ e^(x − max)</c>, or with <paramref name="log"/>
    /// <c>x − max − log Σ e^(x − max)</c>. A row holding NaN gives NaN. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, nint width, bool log)
    {
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref source, r * width);
            ref float y = ref Unsafe.Add(ref destination, r * width);
            float max = float.NegativeInfinity;
            for (nint j = 0; j < width; j++) max = MathF.Max(max, Unsafe.Add(ref x, j));
            float sum = 0f;
            if (log)
            {
                for (nint j = 0; j < width; j++) sum += MathF.Exp(Unsafe.Add(ref x, j) - max);
                float shift = max + MathF.Log(sum);
                for (nint j = 0; j < width; j++) Unsafe.Add(ref y, j) = Unsafe.Add(ref x, j) - shift;
            }
            else
            {
                for (nint j = 0; j < width; j++)
                {
                    float e = MathF.Exp(Unsafe.Add(ref x, j) - max);
                    Unsafe.Add(ref y, j) = e;
                    sum += e;
                }
                float inverse = 1f / sum;
                for (nint j = 0; j < width; j++) Unsafe.Add(ref y, j) *= inverse;
            }
        }
    }
}
