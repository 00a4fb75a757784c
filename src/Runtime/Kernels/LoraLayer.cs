using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// One adapted Linear of a LoRA adapter switched on a session (<see cref="LoraAdapter"/>): after the layer's own product
/// <c>y = W x + b</c>, <see cref="Add"/> adds <c>s · B (A x)</c>, 2·r·(in + out) FLOP per row beside the layer's 2·in·out.
/// </summary>
public sealed class LoraLayer
{
    /// <summary>The largest rank a session takes (the kernel keeps a row's <c>A x</c> on the stack).</summary>
    public const int MaxRank = 1024;

    private readonly float[] _a;      // [rank, in]
    private readonly float[] _scaledB; // [rank, out]: s · Bᵀ, so each rank's column adds along the output row
    private readonly int _rank, _in, _out;

    internal LoraLayer(float[] a, float[] b, int rank, int inputs, int outputs, float scale)
    {
        if (rank <= 0 || rank > MaxRank || a.Length != (long)rank * inputs || b.Length != (long)outputs * rank)
            throw new ArgumentException($"A LoRA layer of rank {rank} from {inputs} to {outputs} needs A [{rank}, {inputs}] and B [{outputs}, {rank}].");
        _a = a;
        _scaledB = new float[rank * outputs];
        for (int o = 0; o < outputs; o++)
        {
            for (int i = 0; i < rank; i++) _scaledB[i * outputs + o] = scale * b[o * rank + i];
        }
        (_rank, _in, _out) = (rank, inputs, outputs);
    }

    /// <summary>
    /// <c>y[r] += s · B (A x[r])</c> for <paramref name="rows"/> rows: <paramref name="x"/> the layer's input rows (of its
    /// input width), <paramref name="y"/> its output rows (of its output width), before any activation fused after it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public void Add(ref float x, nint rows, ref float y)
    {
        Span<float> ax = stackalloc float[_rank];
        ref float a = ref _a[0];
        ref float b = ref _scaledB[0];
        for (nint r = 0; r < rows; r++)
        {
            ref float row = ref Unsafe.Add(ref x, r * _in);
            for (int i = 0; i < _rank; i++) ax[i] = Dot(ref Unsafe.Add(ref a, i * _in), ref row, _in);
            ref float output = ref Unsafe.Add(ref y, r * _out);
            for (int i = 0; i < _rank; i++) AddScaled(ref output, ref Unsafe.Add(ref b, i * _out), ax[i], _out);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ref float u, ref float v, int count)
    {
        var sum = Vector<float>.Zero;
        int j = 0;
        for (; j + Vector<float>.Count <= count; j += Vector<float>.Count)
            sum += Vector.LoadUnsafe(ref u, (nuint)j) * Vector.LoadUnsafe(ref v, (nuint)j);
        float total = Vector.Sum(sum);
        for (; j < count; j++) total += Unsafe.Add(ref u, j) * Unsafe.Add(ref v, j);
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddScaled(ref float y, ref float column, float factor, int count)
    {
        var f = new Vector<float>(factor);
        int j = 0;
        for (; j + Vector<float>.Count <= count; j += Vector<float>.Count)
            (Vector.LoadUnsafe(ref y, (nuint)j) + f * Vector.LoadUnsafe(ref column, (nuint)j)).StoreUnsafe(ref y, (nuint)j);
        for (; j < count; j++) Unsafe.Add(ref y, j) += factor * Unsafe.Add(ref column, j);
    }
}
