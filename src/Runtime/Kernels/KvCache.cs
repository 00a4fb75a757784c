using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// The keys and values a decoder has seen: for each attention layer (a <em>slot</em>), each key/value head's rows for
/// positions <c>0…MaxTokens−1</c>, keys and values apart. Laid out <c>[slot][keys, values][kvHead][position][headSize]</c>,
/// so one head's keys are contiguous and a decode step reads them in order. Allocated once, zeroed, 64-byte aligned.
/// </summary>
public sealed class KvCache
{
    private readonly AlignedBuffer _buffer;
    private readonly AlignedBuffer _scores;
    private readonly long[] _slotStarts;

    /// <summary>A cache of <paramref name="maxTokens"/> positions for attention layers of <paramref name="kvWidths"/> values per position (key/value heads × head size) each.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is not positive, or the cache would not fit in one buffer.</exception>
    public KvCache(int maxTokens, ReadOnlySpan<int> kvWidths)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        _slotStarts = new long[kvWidths.Length];
        long total = 0;
        for (int s = 0; s < kvWidths.Length; s++)
        {
            if (kvWidths[s] <= 0) throw new ArgumentOutOfRangeException(nameof(kvWidths), kvWidths[s], "Each attention layer caches at least one value per position.");
            _slotStarts[s] = total;
            total = checked(total + 2L * maxTokens * kvWidths[s]);
        }
        if (total > Array.MaxLength - 64)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $"A cache of {maxTokens} positions would hold {total} floats, more than one buffer can.");
        MaxTokens = maxTokens;
        Widths = kvWidths.ToArray();
        _buffer = new AlignedBuffer((int)total);
        _scores = new AlignedBuffer(maxTokens);
    }

    /// <summary>Positions the cache holds.</summary>
    public int MaxTokens { get; }

    /// <summary>Values per position of each slot.</summary>
    public ReadOnlySpan<int> KvWidths => Widths;
    private int[] Widths { get; }

    /// <summary>Bytes the cache takes.</summary>
    public long Bytes => 4L * _buffer.Length;

    /// <summary>Slot <paramref name="slot"/>'s keys: <c>[kvHead][position][headSize]</c>.</summary>
    internal ref float Keys(int slot) => ref Unsafe.Add(ref _buffer.Start, (nint)_slotStarts[slot]);

    /// <summary>Slot <paramref name="slot"/>'s values, after its keys.</summary>
    internal ref float Values(int slot) => ref Unsafe.Add(ref _buffer.Start, (nint)(_slotStarts[slot] + (long)MaxTokens * Widths[slot]));

    /// <summary>Room for one score per position (the attention kernel's scratch).</summary>
    internal ref float Scores => ref _scores.Start;
}
