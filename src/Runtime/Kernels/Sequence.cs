using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Embedding look-up (reductions over a dimension are <see cref="Reduce"/>).</summary>
public static class Sequence
{
    /// <summary>
    /// Effectively computes <c>output[i, :] = table[ids[i], :]</c> for <paramref name="count"/> ids; throws
    /// <see cref="ArgumentOutOfRangeException"/> (naming <c>input</c>) for an id that is not a whole number in
    /// <c>[0, <paramref name="tableRows"/>)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Embedding(ref float ids, ref float output, nint count, ref float table, int tableRows, int width)
    {
        for (nint i = 0; i < count; i++)
        {
            float id = Unsafe.Add(ref ids, i);
            if (!(id >= 0 && id < tableRows) || id != MathF.Floor(id)) ThrowId(id, tableRows);
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref output, i * width)),
                ref Unsafe.As<float, byte>(ref Unsafe.Add(ref table, (nint)id * width)), (uint)(width * sizeof(float)));
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> (naming <c>input</c>) for the first id that is not a whole
    /// number in <c>[0, <paramref name="tableRows"/>)</c>: generated <c>Predict</c> methods call it before running
    /// anything, so a bad id leaves the output untouched.
    /// </summary>
    public static void ValidateIds(ReadOnlySpan<float> ids, int tableRows)
    {
        foreach (float id in ids)
            if (!(id >= 0 && id < tableRows) || id != MathF.Floor(id)) ThrowId(id, tableRows);
    }

    /// <summary><see cref="ValidateIds(ReadOnlySpan{float}, int)"/> for ids given as integers (an ONNX model's int64 or int32 input).</summary>
    public static void ValidateIds<T>(ReadOnlySpan<T> ids, int tableRows) where T : System.Numerics.INumberBase<T>
    {
        foreach (T id in ids)
        {
            double value = double.CreateSaturating(id);
            if (!(value >= 0 && value < tableRows) || value != Math.Floor(value)) ThrowId((float)value, tableRows);
        }
    }

    private static void ThrowId(float id, int rows) =>
        throw new ArgumentOutOfRangeException("input", id, $"Token ids must be whole numbers in [0, {rows}).");
}
