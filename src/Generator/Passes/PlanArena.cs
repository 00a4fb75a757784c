using System;
using System.Collections.Generic;

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
/// overlap do. Greedy first fit, in order of definition, with every offset on a 64-byte boundary.
/// </summary>
internal static class PlanArena
{
    public const int AlignmentFloats = 16;

    /// <summary>Most rows a chunk may have; more would not make the GEMM faster.</summary>
    public const int MaxChunkRows = 64;

    /// <summary>Scratch per thread the chunk size aims at (fits the 1 MB L2 with room for weight panels).</summary>
    public const int TargetArenaBytes = 256 * 1024;

    /// <summary>Offsets (floats per row) for each request, and the arena's floats per row.</summary>
    public static int[] Run(IReadOnlyList<ArenaRequest> requests, out int floatsPerRow)
    {
        var offsets = new int[requests.Count];
        floatsPerRow = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            int size = Align(requests[i].FloatsPerRow);
            int offset = 0;
            bool moved = true;
            while (moved)
            {
                moved = false;
                for (int j = 0; j < i; j++)
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
            floatsPerRow = Math.Max(floatsPerRow, offset + size);
        }
        return offsets;
    }

    /// <summary>Rows per chunk: as many as keep the arena near <see cref="TargetArenaBytes"/>, a multiple of 8 (the AVX-512 tile) when above 8.</summary>
    public static int ChunkRows(int floatsPerRow)
    {
        int rows = floatsPerRow == 0 ? MaxChunkRows : TargetArenaBytes / 4 / floatsPerRow;
        rows = Math.Max(1, Math.Min(MaxChunkRows, rows));
        return rows >= 8 ? rows / 8 * 8 : rows;
    }

    public static int Align(int floats) => (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
}
