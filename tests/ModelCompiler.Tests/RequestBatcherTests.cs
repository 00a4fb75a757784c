using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Serving;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>The serving sample's request batcher (samples/Serving/RequestBatcher.cs, compiled into the tests).</summary>
public class RequestBatcherTests
{
    [Fact]
    public async Task Concurrent_requests_share_batches_and_each_gets_its_own_row()
    {
        int calls = 0, largest = 0;
        // A "model" of 3 floats in, 2 out: the row's sum and its first value; slow enough that requests queue behind it.
        await using var batcher = new RequestBatcher((input, output, batch) =>
        {
            Interlocked.Increment(ref calls);
            InterlockedMax(ref largest, batch);
            Thread.Sleep(2);
            for (int r = 0; r < batch; r++)
            {
                output[r * 2] = input[r * 3] + input[r * 3 + 1] + input[r * 3 + 2];
                output[r * 2 + 1] = input[r * 3];
            }
        }, inputLength: 3, outputLength: 2, maxBatch: 16);

        float[][] answers = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => batcher.PredictAsync(new float[] { i, 1, 2 }).AsTask())));
        for (int i = 0; i < answers.Length; i++) Assert.Equal(new float[] { i + 3, i }, answers[i]);
        Assert.InRange(largest, 2, 16);                 // batched, never past MaxBatch
        Assert.True(calls < 400, $"{calls} calls for 400 requests");
        Assert.Equal(400, batcher.Metrics.Requests);
        Assert.Equal(400, batcher.Metrics.BatchRows);
        Assert.Equal(calls, batcher.Metrics.Batches);
        string metrics = batcher.Metrics.ToPrometheus("test");
        Assert.Contains("serving_requests_total{model=\"test\"} 400", metrics);
        Assert.Contains("serving_request_seconds_bucket{model=\"test\",le=\"+Inf\"} 400", metrics);
    }

    [Fact]
    public async Task A_wrong_length_is_refused_and_a_failing_batch_fails_only_its_requests()
    {
        bool fail = true;
        await using var batcher = new RequestBatcher((input, output, batch) =>
        {
            if (fail) throw new InvalidOperationException("model failed");
            output.Fill(1);
        }, inputLength: 2, outputLength: 1);
        Assert.Equal("input", (await Assert.ThrowsAsync<ArgumentException>(() => batcher.PredictAsync(new float[3]).AsTask())).ParamName);
        Assert.Equal("model failed", (await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.PredictAsync(new float[2]).AsTask())).Message);
        fail = false;
        Assert.Equal(new float[] { 1 }, await batcher.PredictAsync(new float[2]));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
