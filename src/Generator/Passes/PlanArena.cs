using System;
using System.Collections.Generic;
using System.Linq;

namespace ModelCompiler.Generator.Passes;

/// <summary>A value that needs scratch memory: its size per row and the kernels between which it is live.</summary>
internal readonly struct ArenaRequest
{
    public ArenaRequest(int floatsPerRow, int firstKernel, int lastKernel)
    {
        FloatsPerRow = floatsPerRow;
        FirstKernel = firstKernel;
        LastKernel = lastKernel;
    }

    public int FloatsPerRow { get; }
    public int FirstKernel { get; }
    public int LastKernel { get; }
}

/// <summary>
/// Liveness-based placement of intermediate values in one arena, sized at build time. Values live at the
/// same time never share memory (a kernel's output never aliases its inputs); values whose lifetimes do not
/// overlap do. Greedy first fit (the best of three orders), with every offset on a 64-byte boundary.
/// </summary>
internal static class PlanArena
{
    public const int AlignmentFloats = 16;

    /// <summary>Shuffled placement orders tried when the fixed ones leave gaps.</summary>
    private const int ShuffledTries = 2000;

    /// <summary>Most rows a chunk may have; more would not make the GEMM faster.</summary>
    public const int MaxChunkRows = 64;

    /// <summary>Scratch per thread the chunk size aims at (fits the 1 MB L2 with room for weight panels).</summary>
    public const int TargetArenaBytes = 256 * 1024;

    /// <summary>
    /// Offsets (floats per row) for each request, and the arena's floats per row: first fit in three orders (definition,
    /// largest first, longest-lived first), keeping the smallest arena; ties go to the earliest order, so plans are
    /// deterministic. Largest-first usually reaches <see cref="LiveBound"/> where definition order leaves gaps.
    /// </summary>
    public static int[] Run(IReadOnlyList<ArenaRequest> requests, out int floatsPerRow)
    {
        var definition = new int[requests.Count];
        for (int i = 0; i < definition.Length; i++) definition[i] = i;
        int[][] orders =
        {
            definition,
            definition.OrderByDescending(i => Align(requests[i].FloatsPerRow)).ThenBy(i => i).ToArray(),
            definition.OrderByDescending(i => requests[i].LastKernel - requests[i].FirstKernel).ThenBy(i => i).ToArray(),
        };
        int[] best = null!;
        floatsPerRow = int.MaxValue;
        foreach (int[] order in orders)
        {
            int[] offsets = FirstFit(requests, order, out int size);
            if (size < floatsPerRow)
            {
                best = offsets;
                floatsPerRow = size;
            }
        }
        // Still above the bound: shuffled orders, from a fixed seed (the plan must not change between builds), until
        // one reaches it or the tries run out. Placement is O(n²) per try and models have tens of values.
        int bound = LiveBound(requests);
        uint state = 2463534242; // xorshift32: deterministic everywhere (System.Random is banned in analyzers, RS1035)
        for (int attempt = 0; attempt < ShuffledTries && floatsPerRow > bound; attempt++)
        {
            int[] order = (int[])definition.Clone();
            for (int i = order.Length - 1; i > 0; i--)
            {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                int j = (int)(state % (uint)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            int[] offsets = FirstFit(requests, order, out int size);
            if (size < floatsPerRow)
            {
                best = offsets;
                floatsPerRow = size;
            }
        }
        return best;
    }

    /// <summary>Places the requests in <paramref name="order"/>, each at the lowest offset clear of those already placed that it lives with.</summary>
    private static int[] FirstFit(IReadOnlyList<ArenaRequest> requests, int[] order, out int floatsPerRow)
    {
        var offsets = new int[requests.Count];
        var placed = new List<int>();
        floatsPerRow = 0;
        foreach (int i in order)
        {
            int size = Align(requests[i].FloatsPerRow);
            int offset = 0;
            bool moved = true;
            while (moved)
            {
                moved = false;
                foreach (int j in placed)
                {
                    bool liveTogether = requests[j].FirstKernel <= requests[i].LastKernel && requests[i].FirstKernel <= requests[j].LastKernel;
                    int otherEnd = offsets[j] + Align(requests[j].FloatsPerRow);
                    if (liveTogether && offset < otherEnd && offsets[j] < offset + size)
                    {
                        offset = otherEnd;
                        moved = true;
                    }
                }
            }
            offsets[i] = offset;
            placed.Add(i);
            floatsPerRow = Math.Max(floatsPerRow, offset + size);
        }
        return offsets;
    }

    /// <summary>
    /// The least any plan can use: the largest total (aligned) of the values live at the same time, over all kernels.
    /// <see cref="Run"/>'s arena is compared against it (the generated header prints both; a test holds them equal).
    /// </summary>
    public static int LiveBound(IReadOnlyList<ArenaRequest> requests)
    {
        int last = 0;
        foreach (ArenaRequest r in requests) last = Math.Max(last, r.LastKernel);
        int bound = 0;
        for (int k = 0; k <= last; k++)
        {
            int live = 0;
            foreach (ArenaRequest r in requests)
                if (r.FirstKernel <= k && k <= r.LastKernel) live += Align(r.FloatsPerRow);
            bound = Math.Max(bound, live);
        }
        return bound;
    }

    /// <summary>
    /// Linear weights at least this large (a language model's) are streamed from memory once per chunk of rows, so the
    /// chunk is sized for <see cref="LargeWeightsArenaBytes"/> instead: at 8 rows a 128-token prefill of a 125 M-parameter
    /// decoder read its 400 MB of weights 16 times.
    /// </summary>
    public const long LargeWeightsBytes = 8L << 20;

    /// <summary>Scratch per thread the chunk size aims at when the weights are large (<see cref="LargeWeightsBytes"/>).</summary>
    public const int LargeWeightsArenaBytes = 4 << 20;

    /// <summary>
    /// Rows per chunk: as many as keep the arena near <see cref="TargetArenaBytes"/> (<see cref="LargeWeightsArenaBytes"/>
    /// when the Linear weights take <paramref name="linearWeightBytes"/> ≥ <see cref="LargeWeightsBytes"/>), a multiple of 8
    /// (the AVX-512 tile) when above 8.
    /// </summary>
    public static int ChunkRows(int floatsPerRow, long linearWeightBytes = 0)
    {
        int target = linearWeightBytes >= LargeWeightsBytes ? LargeWeightsArenaBytes : TargetArenaBytes;
        int rows = floatsPerRow == 0 ? MaxChunkRows : target / 4 / floatsPerRow;
        rows = Math.Max(1, Math.Min(MaxChunkRows, rows));
        return rows >= 8 ? rows / 8 * 8 : rows;
    }

    public static int Align(int floats) => (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
}
