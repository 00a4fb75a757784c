using System;
using System.Collections.Generic;
using System.Linq;

using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

/// <summary>A node on constants that cannot be folded; the message says why (the importer turns it into MC0013).</summary>
internal sealed class OnnxFoldException : Exception
{
    public OnnxFoldException(string message) : base(message) { }
}

/// <summary>
/// Evaluates ONNX nodes whose inputs are all known at build time (<see cref="OnnxConstant"/>), with ONNX semantics:
/// numpy broadcasting, integer division truncating toward zero, casts truncating toward zero, Slice clamping. This is
/// what turns the shape arithmetic exporters write (Shape → Gather → Unsqueeze → Concat → Reshape) into the constant
/// reshape targets the compiler needs, carrying "a multiple of the batch size" through it symbolically.
/// </summary>
internal static class OnnxConstantFolding
{
    /// <summary>Constants past this many elements are not folded (a shape computation never needs them).</summary>
    public const long MaxElements = 1 << 24;

    /// <summary>An activation's shape: the batch (symbolic), then the sample dimensions; ONNX 15's start and end pick a part.</summary>
    /// <summary>The Shape of an activation: the batch as a symbol, then the sample's dimensions (only these when <paramref name="whole"/>).</summary>
    public static OnnxConstant Shape(int[] sample, long start, long? end, bool whole = false)
    {
        int lead = whole ? 0 : 1;
        var longs = new long[sample.Length + lead];
        var batch = new bool[sample.Length + lead];
        if (!whole)
        {
            longs[0] = 1;
            batch[0] = true;
        }
        for (int i = 0; i < sample.Length; i++) longs[i + lead] = sample[i];
        var all = new OnnxConstant(new long[] { longs.Length }, null, longs, batch);
        return Slice(all, new[] { start }, new[] { end ?? long.MaxValue }, new[] { 0L }, new[] { 1L });
    }

    public static OnnxConstant Gather(OnnxConstant data, OnnxConstant indices, long axis)
    {
        int rank = data.Dims.Length;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) throw new OnnxFoldException($"axis {axis} is outside a rank-{rank} tensor");
        long[] picks = indices.PlainLongs ?? throw new OnnxFoldException("the indices must be integers");
        long size = data.Dims[axis];
        long[] dims = data.Dims.Take((int)axis).Concat(indices.Dims).Concat(data.Dims.Skip((int)axis + 1)).ToArray();
        long outer = SizeMath.Product(data.Dims.Take((int)axis)), inner = SizeMath.Product(data.Dims.Skip((int)axis + 1));
        if ((double)outer * picks.Length * inner > MaxElements) throw new OnnxFoldException("the result is too large to fold");
        var source = new List<int>();
        for (long o = 0; o < outer; o++)
            foreach (long raw in picks)
            {
                long i = raw < 0 ? raw + size : raw;
                if (i < 0 || i >= size) throw new OnnxFoldException($"index {raw} is outside an axis of {size}");
                for (long n = 0; n < inner; n++) source.Add((int)((o * size + i) * inner + n));
            }
        return data.Gathered(dims, source);
    }

    public static OnnxConstant Concat(IReadOnlyList<OnnxConstant> parts, long axis)
    {
        int rank = parts[0].Dims.Length;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) throw new OnnxFoldException($"axis {axis} is outside a rank-{rank} tensor");
        if (parts.Any(p => p.Dims.Length != rank || (p.Floats is null) != (parts[0].Floats is null)
                || Enumerable.Range(0, rank).Any(d => d != axis && p.Dims[d] != parts[0].Dims[d])))
            throw new OnnxFoldException("the parts differ in type or in a dimension other than the axis");
        long[] dims = parts[0].Dims.ToArray();
        dims[axis] = parts.Sum(p => p.Dims[axis]);
        long outer = SizeMath.Product(dims.Take((int)axis));
        var floats = new List<float>();
        var longs = new List<long>();
        var batch = new List<bool>();
        for (long o = 0; o < outer; o++)
            foreach (OnnxConstant p in parts)
            {
                long block = p.Count / Math.Max(1, outer);
                for (long i = o * block; i < (o + 1) * block; i++)
                {
                    if (p.Floats is not null) floats.Add(p.Floats[i]);
                    if (p.Longs is not null) { longs.Add(p.Longs[i]); batch.Add(p.Batch is not null && p.Batch[i]); }
                }
            }
        return parts[0].Floats is not null ? new OnnxConstant(dims, floats.ToArray(), null) : new OnnxConstant(dims, null, longs.ToArray(), batch.ToArray());
    }

    /// <summary>Cast to <paramref name="to"/> (an ONNX data type): floats to integers truncate toward zero, as ONNX Runtime does.</summary>
    public static OnnxConstant Cast(OnnxConstant c, OnnxDataType to)
    {
        bool toFloat = to is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16 or OnnxDataType.BFloat16;
        if (toFloat)
        {
            if (c.Floats is not null) return c;
            if (c.HasBatch) throw new OnnxFoldException("the batch size cannot become a float: it is known only at run time");
            return new OnnxConstant(c.Dims, c.Longs!.Select(v => (float)v).ToArray(), null);
        }
        if (to is OnnxDataType.String or OnnxDataType.Undefined) throw new OnnxFoldException($"a cast to {to} is not supported");
        if (c.Longs is not null)
            return to == OnnxDataType.Bool ? new OnnxConstant(c.Dims, null, c.Longs.Select(v => v != 0 ? 1L : 0L).ToArray(), c.Batch) : c;
        return new OnnxConstant(c.Dims, null, c.Floats!.Select(v => to == OnnxDataType.Bool ? (v != 0 ? 1L : 0L) : (long)Math.Truncate((double)v)).ToArray());
    }

    public static OnnxConstant Unary(string op, OnnxConstant c)
    {
        if (c.Floats is not null)
            return new OnnxConstant(c.Dims, c.Floats.Select(v => op switch
            {
                "Sqrt" => (float)Math.Sqrt(v),
                "Neg" => -v,
                "Reciprocal" => 1f / v,
                "Exp" => (float)Math.Exp(v),
                "Abs" => Math.Abs(v),
                "Relu" => Math.Max(v, 0f),
                _ => throw new OnnxFoldException($"{op} of a constant is not folded"),
            }).ToArray(), null);
        if (c.HasBatch) throw new OnnxFoldException($"{op} of the batch size is not supported");
        return new OnnxConstant(c.Dims, null, c.Longs!.Select(v => op switch
        {
            "Neg" => -v,
            "Abs" => Math.Abs(v),
            "Relu" => Math.Max(v, 0),
            "Not" => v == 0 ? 1 : 0, // booleans are 0/1 integers
            _ => throw new OnnxFoldException($"{op} of an integer constant is not folded"),
        }).ToArray());
    }

    /// <summary>Add, Sub, Mul, Div, Pow (and comparisons) with numpy broadcasting; integer Div truncates toward zero.</summary>
    public static OnnxConstant Binary(string op, OnnxConstant a, OnnxConstant b)
    {
        if ((a.Floats is null) != (b.Floats is null)) throw new OnnxFoldException("the operands differ in type");
        long[] dims = BroadcastDims(a.Dims, b.Dims);
        int[] ia = Sources(a.Dims, dims), ib = Sources(b.Dims, dims);
        int count = ia.Length;
        if (a.Floats is not null)
        {
            float[] x = a.Floats, y = b.Floats!;
            var floats = new float[count];
            var compare = new long[count];
            bool isComparison = op is "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual";
            for (int i = 0; i < count; i++)
            {
                float u = x[ia[i]], v = y[ib[i]];
                switch (op)
                {
                    case "Add": floats[i] = u + v; break;
                    case "Sub": floats[i] = u - v; break;
                    case "Mul": floats[i] = u * v; break;
                    case "Div": floats[i] = u / v; break;
                    case "Pow": floats[i] = (float)Math.Pow(u, v); break;
                    case "Equal": compare[i] = u == v ? 1 : 0; break;
                    case "Less": compare[i] = u < v ? 1 : 0; break;
                    case "Greater": compare[i] = u > v ? 1 : 0; break;
                    case "LessOrEqual": compare[i] = u <= v ? 1 : 0; break;
                    case "GreaterOrEqual": compare[i] = u >= v ? 1 : 0; break;
                    default: throw new OnnxFoldException($"{op} of constants is not folded");
                }
            }
            return isComparison ? new OnnxConstant(dims, null, compare) : new OnnxConstant(dims, floats, null);
        }

        long[] p = a.Longs!, q = b.Longs!;
        var longs = new long[count];
        var batch = new bool[count];
        for (int i = 0; i < count; i++)
        {
            long u = p[ia[i]], v = q[ib[i]];
            bool bu = a.Batch is not null && a.Batch[ia[i]], bv = b.Batch is not null && b.Batch[ib[i]];
            string Symbolic() => $"{op} of {(bu ? "a multiple of the batch size" : u.ToString())} and {(bv ? "a multiple of the batch size" : v.ToString())}";
            switch (op)
            {
                case "Add" or "Sub":
                    if (bu != bv) throw new OnnxFoldException(Symbolic() + " is not supported: the batch size is known only at run time");
                    longs[i] = op == "Add" ? u + v : u - v;
                    batch[i] = bu && longs[i] != 0;
                    break;
                case "Mul":
                    if (bu && bv) throw new OnnxFoldException(Symbolic() + " is not supported");
                    longs[i] = u * v;
                    batch[i] = (bu || bv) && longs[i] != 0;
                    break;
                case "Div":
                    if (v == 0) throw new OnnxFoldException("integer division by zero");
                    if (bv && !bu) throw new OnnxFoldException(Symbolic() + " is not supported");
                    if (bu && !bv && u % v != 0) throw new OnnxFoldException(Symbolic() + " is not supported: it is not a whole multiple of the batch size");
                    longs[i] = u / v; // C# truncates toward zero, as ONNX does
                    batch[i] = bu && !bv;
                    break;
                case "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or" or "Xor":
                    if (bu || bv) throw new OnnxFoldException(Symbolic() + " is not supported: the batch size is known only at run time");
                    longs[i] = op switch
                    {
                        "Equal" => u == v ? 1 : 0, "Less" => u < v ? 1 : 0, "Greater" => u > v ? 1 : 0, "LessOrEqual" => u <= v ? 1 : 0,
                        "GreaterOrEqual" => u >= v ? 1 : 0, "And" => u != 0 && v != 0 ? 1 : 0, "Or" => u != 0 || v != 0 ? 1 : 0, _ => (u != 0) != (v != 0) ? 1 : 0,
                    };
                    break;
                default: throw new OnnxFoldException($"{op} of integer constants is not folded");
            }
        }
        return new OnnxConstant(dims, null, longs, batch);
    }

    /// <summary>Where(condition, x, y) on constants, broadcast.</summary>
    public static OnnxConstant Where(OnnxConstant condition, OnnxConstant x, OnnxConstant y)
    {
        long[] c = condition.PlainLongs ?? throw new OnnxFoldException("the condition must be a known boolean");
        if ((x.Floats is null) != (y.Floats is null)) throw new OnnxFoldException("the operands differ in type");
        long[] dims = BroadcastDims(BroadcastDims(condition.Dims, x.Dims), y.Dims);
        int[] ic = Sources(condition.Dims, dims), ix = Sources(x.Dims, dims), iy = Sources(y.Dims, dims);
        var source = Enumerable.Range(0, ic.Length).Select(i => c[ic[i]] != 0).ToArray();
        return new OnnxConstant(dims,
            x.Floats is null ? null : source.Select((s, i) => s ? x.Floats[ix[i]] : y.Floats![iy[i]]).ToArray(),
            x.Longs is null ? null : source.Select((s, i) => s ? x.Longs[ix[i]] : y.Longs![iy[i]]).ToArray(),
            x.Longs is null ? null : source.Select((s, i) => s ? x.Batch is not null && x.Batch[ix[i]] : y.Batch is not null && y.Batch[iy[i]]).ToArray());
    }

    /// <summary>ONNX Reshape of a constant: 0 copies the dimension, −1 takes what is left.</summary>
    public static OnnxConstant Reshape(OnnxConstant c, long[] target, bool allowZero = false) => c.Reshaped(ResolveShape(c.Dims, target, allowZero));

    public static long[] ResolveShape(long[] input, long[] target, bool allowZero)
    {
        long total = SizeMath.Product(input);
        var dims = new long[target.Length];
        int inferred = -1;
        for (int i = 0; i < target.Length; i++)
        {
            long d = target[i];
            if (d == 0 && !allowZero)
            {
                if (i >= input.Length) throw new OnnxFoldException($"0 at position {i} copies a dimension the input does not have");
                d = input[i];
            }
            if (d == -1)
            {
                if (inferred >= 0) throw new OnnxFoldException("more than one -1");
                inferred = i;
                continue;
            }
            if (d < 0) throw new OnnxFoldException($"dimension {d}");
            dims[i] = d;
        }
        long known = SizeMath.Product(dims.Where((d, i) => i != inferred));
        if (inferred >= 0)
        {
            if (known == 0 || total % known != 0) throw new OnnxFoldException($"[{string.Join(", ", target)}] does not divide {total} elements");
            dims[inferred] = total / known;
        }
        else if (known != total) throw new OnnxFoldException($"[{string.Join(", ", target)}] holds {known} elements, not {total}");
        return dims;
    }

    public static OnnxConstant Transpose(OnnxConstant c, long[] perm)
    {
        int rank = c.Dims.Length;
        if (perm.Length != rank || perm.Distinct().Count() != rank || perm.Any(p => p < 0 || p >= rank)) throw new OnnxFoldException($"perm [{string.Join(", ", perm)}] does not fit a rank-{rank} tensor");
        long[] dims = perm.Select(p => c.Dims[p]).ToArray();
        long[] strides = Strides(c.Dims);
        var source = new List<int>();
        foreach (long[] index in Indices(dims))
            source.Add((int)perm.Select((p, i) => index[i] * strides[p]).Sum());
        // A matrix transposed (an exporter's W.T) still reads from the file's bytes.
        return rank == 2 && perm[0] == 1 ? c.Gathered(dims, source).WithOrigin(c.Origin?.Transpose(c.Dims[0], c.Dims[1])) : c.Gathered(dims, source);
    }

    /// <summary>ONNX Slice (any step but 0), bounds clamped as ONNX clamps them.</summary>
    public static OnnxConstant Slice(OnnxConstant c, long[] starts, long[] ends, long[] axes, long[] steps)
    {
        int rank = c.Dims.Length;
        long[] begin = new long[rank], step = Enumerable.Repeat(1L, rank).ToArray(), dims = c.Dims.ToArray();
        for (int i = 0; i < axes.Length; i++)
        {
            long axis = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (axis < 0 || axis >= rank) throw new OnnxFoldException($"axis {axes[i]} is outside a rank-{rank} tensor");
            long size = c.Dims[axis], s = steps[i];
            if (s == 0) throw new OnnxFoldException("a step of 0");
            long start = starts[i] < 0 ? starts[i] + size : starts[i], end = ends[i] < 0 && ends[i] != long.MinValue ? ends[i] + size : ends[i];
            if (s > 0)
            {
                start = Math.Max(0, Math.Min(size, start));
                end = Math.Max(0, Math.Min(size, end));
                dims[axis] = Math.Max(0, (end - start + s - 1) / s);
            }
            else
            {
                start = Math.Max(-1, Math.Min(size - 1, start));
                end = Math.Max(-1, Math.Min(size - 1, end));
                dims[axis] = Math.Max(0, (start - end - s - 1) / -s);
            }
            begin[axis] = start; step[axis] = s;
        }
        long[] strides = Strides(c.Dims);
        var source = new List<int>();
        foreach (long[] index in Indices(dims))
            source.Add((int)Enumerable.Range(0, rank).Sum(d => (begin[d] + index[d] * step[d]) * strides[d]));
        return c.Gathered(dims, source);
    }

    public static OnnxConstant ConstantOfShape(OnnxConstant shape, OnnxConstant? value)
    {
        long[] dims = shape.PlainLongs ?? throw new OnnxFoldException("a tensor shaped by the batch size cannot be a constant");
        long count = SizeMath.Product(dims);
        if (dims.Any(d => d < 0) || count > MaxElements) throw new OnnxFoldException($"shape [{string.Join(", ", dims)}]");
        if (value is null) return new OnnxConstant(dims, new float[count], null);
        if (value.Count != 1) throw new OnnxFoldException("the value must hold one element");
        return value.Gathered(dims, new int[count]);
    }

    public static OnnxConstant Range(OnnxConstant start, OnnxConstant limit, OnnxConstant delta)
    {
        if (start.Count != 1 || limit.Count != 1 || delta.Count != 1) throw new OnnxFoldException("start, limit and delta must be scalars");
        if (start.Floats is not null)
        {
            float s = start.Floats[0], l = limit.Floats![0], d = delta.Floats![0];
            long n = Math.Max(0, (long)Math.Ceiling((l - s) / d));
            if (n > MaxElements) throw new OnnxFoldException($"{n} elements");
            return new OnnxConstant(new[] { n }, Enumerable.Range(0, (int)n).Select(i => s + i * d).ToArray(), null);
        }
        if (start.HasBatch || limit.HasBatch || delta.HasBatch) throw new OnnxFoldException("a range over the batch size is not supported");
        long a = start.Longs![0], b = limit.Longs![0], step = delta.Longs![0];
        if (step == 0) throw new OnnxFoldException("a delta of 0");
        long count = Math.Max(0, (b - a + step + (step > 0 ? -1 : 1)) / step);
        if (count > MaxElements) throw new OnnxFoldException($"{count} elements");
        return new OnnxConstant(new[] { count }, null, Enumerable.Range(0, (int)count).Select(i => a + i * step).ToArray());
    }

    public static long[] BroadcastDims(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var dims = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1, y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (x != y && x != 1 && y != 1) throw new OnnxFoldException($"[{string.Join(", ", a)}] and [{string.Join(", ", b)}] do not broadcast");
            dims[i] = x == 1 ? y : x;
        }
        if (SizeMath.Product(dims) > MaxElements) throw new OnnxFoldException("the result is too large to fold");
        return dims;
    }

    /// <summary>For each element of a tensor of <paramref name="dims"/>, the element of one of <paramref name="from"/> that broadcasts to it.</summary>
    private static int[] Sources(long[] from, long[] dims)
    {
        long[] strides = Strides(from);
        int offset = dims.Length - from.Length;
        return Indices(dims).Select(index => (int)Enumerable.Range(0, from.Length).Sum(d => from[d] == 1 ? 0 : index[d + offset] * strides[d])).ToArray();
    }

    private static long[] Strides(long[] dims)
    {
        var strides = new long[dims.Length];
        long s = 1;
        for (int d = dims.Length - 1; d >= 0; d--) { strides[d] = s; s *= dims[d]; }
        return strides;
    }

    /// <summary>Every index of a tensor of <paramref name="dims"/>, in row-major order (one array, reused).</summary>
    private static IEnumerable<long[]> Indices(long[] dims)
    {
        if (dims.Any(d => d == 0)) yield break;
        if (SizeMath.Product(dims) > MaxElements) throw new OnnxFoldException("the result is too large to fold");
        var index = new long[dims.Length];
        while (true)
        {
            yield return index;
            int d = dims.Length - 1;
            while (d >= 0 && ++index[d] == dims[d]) index[d--] = 0;
            if (d < 0) yield break;
        }
    }
}
