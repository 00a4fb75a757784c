using System;
using System.Collections.Concurrent;
using System.Linq;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>How BatchRunner cuts a batch among cores: by samples when each core gets enough work, else inside each kernel.</summary>
public class BatchRunnerTests
{
    [Theory]
    [InlineData(0L, 8)]              // unknown work: the old rule, 8 rows a worker
    [InlineData(1_000L, 8)]          // a tiny sample: 8 rows a worker at most
    [InlineData(4_000_000L, 4)]      // 16 MFLOP in four samples
    [InlineData(5_000_000L, 4)]      // rounded up
    [InlineData(16_000_000L, 1)]     // one sample is a worker's worth
    [InlineData(2_000_000_000L, 1)]
    public void Rows_per_worker_shrink_as_samples_grow(long flopsPerSample, int rows) =>
        Assert.Equal(rows, BatchRunner.MinRows(flopsPerSample));

    [Fact]
    public void A_batch_of_large_samples_is_split_by_samples_each_range_on_its_own_arena()
    {
        const int batch = 4, width = 3;
        float[] input = Enumerable.Range(0, batch * width).Select(i => (float)i).ToArray();
        var output = new float[batch * width + 1];
        output[^1] = 42f;
        var calls = new ConcurrentBag<(float First, int Rows, bool Shared)>();
        BatchRunner.Run(input, output.AsSpan(0, batch * width), batch, width, width, chunkRows: 1, parallel: true, maxDegreeOfParallelism: 2, weights: null,
            (x, y, rows, weights, workers) =>
            {
                calls.Add((x[0], rows, workers is not null));
                for (int i = 0; i < rows * width; i++) y[i] = 2 * x[i];
            },
            flopsPerSample: 50_000_000);
        // Two ranges of two samples, each run in chunks of one row on its own thread's arena: no kernel shares its work.
        Assert.Equal(batch, calls.Count);
        Assert.All(calls, c => Assert.Equal(1, c.Rows));
        Assert.All(calls, c => Assert.False(c.Shared));
        Assert.Equal(new[] { 0f, 3f, 6f, 9f }, calls.Select(c => c.First).OrderBy(v => v));
        Assert.Equal(input.Select(v => 2 * v), output.Take(batch * width));
        Assert.Equal(42f, output[^1]);
    }
}
