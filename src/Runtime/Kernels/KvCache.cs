using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// The keys and values a decoder has seen: for each attention layer (a <em>slot</em>), each key/value head's rows for
/// positions <c>0…MaxTokens−1</c>, keys and values apart. Laid out <c>[slot][keys, values][kvHead][position][headSize]</c>,
/// so one head's keys are contiguous and a decode step reads them in order. Allocated once, zeroed, in the
/// <see cref="KvCacheFormat"/> chosen; the attention kernel converts a row as it reads it.
/// </summary>
public sealed class KvCache
{
    private readonly AlignedBuffer? _floats;
    private readonly ushort[]? _halves;
    private readonly sbyte[]? _codes;
    private readonly float[]? _scales;
    private readonly long[] _slotStarts;
    private readonly long[] _rowStarts;
    private readonly int[] _headSizes;

    /// <summary>
    /// A cache of <paramref name="maxTokens"/> positions for attention layers of <paramref name="kvWidths"/> values per
    /// position (key/value heads × head size) each, heads of <paramref name="headSizes"/> (default: one head per layer).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is not positive, or the cache would not fit in one buffer.</exception>
    /// <exception cref="ArgumentException">A head size does not divide its layer's width.</exception>
    public KvCache(int maxTokens, ReadOnlySpan<int> kvWidths, KvCacheFormat format = KvCacheFormat.Float32, ReadOnlySpan<int> headSizes = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        if (format is not (KvCacheFormat.Float32 or KvCacheFormat.Float16 or KvCacheFormat.Int8))
            throw new ArgumentOutOfRangeException(nameof(format), format, "Float32, Float16 or Int8.");
        if (!headSizes.IsEmpty && headSizes.Length != kvWidths.Length)
            throw new ArgumentException("One head size per attention layer.", nameof(headSizes));
        _slotStarts = new long[kvWidths.Length];
        _rowStarts = new long[kvWidths.Length];
        _headSizes = new int[kvWidths.Length];
        long total = 0, rows = 0;
        for (int s = 0; s < kvWidths.Length; s++)
        {
            if (kvWidths[s] <= 0) throw new ArgumentOutOfRangeException(nameof(kvWidths), kvWidths[s], "Each attention layer caches at least one value per position.");
            _headSizes[s] = headSizes.IsEmpty ? kvWidths[s] : headSizes[s];
            if (_headSizes[s] <= 0 || kvWidths[s] % _headSizes[s] != 0)
                throw new ArgumentException($"Heads of {_headSizes[s]} values do not split a layer of {kvWidths[s]}.", nameof(headSizes));
            if (format != KvCacheFormat.Float32 && _headSizes[s] > MaxCompactHeadSize)
                throw new ArgumentOutOfRangeException(nameof(format), format, $"A {format} cache takes heads of at most {MaxCompactHeadSize} values (the kernel widens a tile of rows on the stack); this model's are {_headSizes[s]}.");
            _slotStarts[s] = total;
            _rowStarts[s] = rows;
            total = checked(total + 2L * maxTokens * kvWidths[s]);
            rows += 2L * maxTokens * (kvWidths[s] / _headSizes[s]);
        }
        if (total > Array.MaxLength - 64)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $"A cache of {maxTokens} positions would hold {total} values, more than one buffer can.");
        MaxTokens = maxTokens;
        Format = format;
        Widths = kvWidths.ToArray();
        switch (format)
        {
            case KvCacheFormat.Float32:
                _floats = new AlignedBuffer((int)total);
                break;
            case KvCacheFormat.Float16:
                _halves = new ushort[total];
                break;
            default:
                _codes = new sbyte[total];
                _scales = new float[rows]; // one per row of a head
                break;
        }
    }

    /// <summary>The widest head a Float16 or Int8 cache takes.</summary>
    public const int MaxCompactHeadSize = 4096;

    /// <summary>Positions the cache holds.</summary>
    public int MaxTokens { get; }

    /// <summary>How each value is stored.</summary>
    public KvCacheFormat Format { get; }

    /// <summary>Values per position of each slot.</summary>
    public ReadOnlySpan<int> KvWidths => Widths;
    private int[] Widths { get; }

    /// <summary>The head size of a slot.</summary>
    internal int HeadSize(int slot) => _headSizes[slot];

    /// <summary>Bytes the cache's keys and values take (with an int8 cache's scales).</summary>
    public long Bytes => Format switch
    {
        KvCacheFormat.Float32 => 4L * _floats!.Length,
        KvCacheFormat.Float16 => 2L * _halves!.Length,
        _ => _codes!.LongLength + 4L * _scales!.LongLength,
    };

    /// <summary>Where slot <paramref name="slot"/>'s keys (or, with <paramref name="values"/>, values) start, in values: <c>[kvHead][position][headSize]</c>.</summary>
    internal long Start(int slot, bool values) => _slotStarts[slot] + (values ? (long)MaxTokens * Widths[slot] : 0);

    /// <summary>The row index of the value at <paramref name="offset"/> (a row start) of slot <paramref name="slot"/>: where its int8 scale is.</summary>
    private long Row(int slot, long offset) => _rowStarts[slot] + (offset - _slotStarts[slot]) / _headSizes[slot];

    /// <summary>The float32 cache's values from <paramref name="offset"/>.</summary>
    internal ref float Floats(long offset) => ref Unsafe.Add(ref _floats!.Start, (nint)offset);

    /// <summary>Stores <paramref name="count"/> values (one head's row) at <paramref name="offset"/> of slot <paramref name="slot"/>, converted to the format.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Store(int slot, long offset, ref float source, int count)
    {
        switch (Format)
        {
            case KvCacheFormat.Float32:
                Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Floats(offset)), ref Unsafe.As<float, byte>(ref source), (uint)count * sizeof(float));
                break;
            case KvCacheFormat.Float16:
                for (int i = 0; i < count; i++) _halves![offset + i] = BitConverter.HalfToUInt16Bits((Half)Unsafe.Add(ref source, i));
                break;
            default:
                float max = 0;
                for (int i = 0; i < count; i++) max = MathF.Max(max, MathF.Abs(Unsafe.Add(ref source, i)));
                // A row with a NaN or an infinity keeps it: its scale is NaN/∞ and every value it gives is not finite.
                float scale = max / 127f;
                _scales![Row(slot, offset)] = scale;
                float inverse = scale > 0 && float.IsFinite(scale) ? 1f / scale : 0f;
                for (int i = 0; i < count; i++)
                    _codes![offset + i] = (sbyte)Math.Clamp(MathF.Round(Unsafe.Add(ref source, i) * inverse, MidpointRounding.ToEven), -127f, 127f);
                break;
        }
    }

    /// <summary>
    /// <paramref name="rows"/> rows of one head of a Float16 or Int8 cache from <paramref name="offset"/> (a row start),
    /// widened to float32 into <paramref name="destination"/> (the attention kernel's tile, on its stack).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Widen(int slot, long offset, int rows, Span<float> destination)
    {
        int headSize = _headSizes[slot];
        if (Format == KvCacheFormat.Float16)
        {
            HalfConversion.ToSingle(ref _halves![offset], destination.Slice(0, rows * headSize));
        }
        else
        {
            long row = Row(slot, offset);
            for (int r = 0; r < rows; r++)
                HalfConversion.FromInt8(ref _codes![offset + (long)r * headSize], _scales![row + r], destination.Slice(r * headSize, headSize));
        }
    }
}
