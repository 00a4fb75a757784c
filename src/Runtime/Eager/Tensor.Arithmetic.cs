using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>Element-wise sum with NumPy broadcasting.</summary>
    public Tensor Add(Tensor other) => Broadcast(other, static (x, y) => x + y, "Add");

    /// <summary>Element-wise product with NumPy broadcasting.</summary>
    public Tensor Mul(Tensor other) => Broadcast(other, static (x, y) => x * y, "Mul");

    /// <summary>The larger of each pair, broadcasting as <see cref="Add(Tensor)"/> (<c>torch.maximum</c>; ONNX's <c>Max</c>): NaN if either is.</summary>
    public Tensor Maximum(Tensor other) => Broadcast(other, static (x, y) => MathF.Max(x, y), "Maximum");

    /// <summary>The smaller of each pair, broadcasting as <see cref="Add(Tensor)"/> (<c>torch.minimum</c>; ONNX's <c>Min</c>): NaN if either is.</summary>
    public Tensor Minimum(Tensor other) => Broadcast(other, static (x, y) => MathF.Min(x, y), "Minimum");

    /// <summary>Adds a constant to every element.</summary>
    public Tensor Add(float value) => Map(x => (float)x + value);

    /// <summary>Multiplies every element by a constant.</summary>
    public Tensor Mul(float value) => Map(x => (float)x * value);

    /// <summary>Element-wise sum with NumPy broadcasting.</summary>
    public static Tensor operator +(Tensor left, Tensor right) => left.Add(right);
    /// <summary>Adds a constant to every element.</summary>
    public static Tensor operator +(Tensor left, float right) => left.Add(right);
    /// <summary>Adds a constant to every element.</summary>
    public static Tensor operator +(float left, Tensor right) => right.Add(left);
    /// <summary>Element-wise product with NumPy broadcasting.</summary>
    public static Tensor operator *(Tensor left, Tensor right) => left.Mul(right);
    /// <summary>Multiplies every element by a constant.</summary>
    public static Tensor operator *(Tensor left, float right) => left.Mul(right);
    /// <summary>Multiplies every element by a constant.</summary>
    public static Tensor operator *(float left, Tensor right) => right.Mul(left);

    private Tensor Broadcast(Tensor other, Func<float, float, float> op, string what)
    {
        ArgumentNullException.ThrowIfNull(other);
        int rank = Math.Max(Rank, other.Rank);
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int a = DimFromRight(this, rank - 1 - d), b = DimFromRight(other, rank - 1 - d);
            if (a != b && a != 1 && b != 1)
                throw new InvalidOperationException($"{what}: shapes {Format(Shape)} and {Format(other.Shape)} do not broadcast.");
            shape[d] = a == 1 ? b : a;
        }
        long count = 1;
        foreach (int d in shape) count *= d;
        var result = new float[count];
        var index = new int[rank];
        for (long i = 0; i < count; i++)
        {
            result[i] = op(_data[Offset(this, index)], other._data[Offset(other, index)]);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return Create(shape, result, other);
    }

    private static int DimFromRight(Tensor t, int fromRight) => fromRight < t.Rank ? t._shape[t.Rank - 1 - fromRight] : 1;

    /// <summary>Offset in <paramref name="t"/> of a broadcast index (right-aligned; size-1 dimensions pinned to 0).</summary>
    private static int Offset(Tensor t, int[] index)
    {
        int offset = 0, lead = index.Length - t.Rank;
        for (int d = 0; d < t.Rank; d++) offset = offset * t._shape[d] + (t._shape[d] == 1 ? 0 : index[lead + d]);
        return offset;
    }
}
