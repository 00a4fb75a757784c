using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Serving;

/// <summary>Runs a model on <paramref name="batch"/> samples (a compiled model's batched <c>Predict</c>, or any other backend).</summary>
public delegate void BatchPredict(ReadOnlySpan<float> input, Span<float> output, int batch);

/// <summary>
/// Request batching: concurrent requests wait in a queue, and one worker takes every request queued (up to
/// <see cref="MaxBatch"/>) and runs them as one batched call. Nothing waits for a batch to fill — under light load each
/// request runs alone at once; under heavy load the requests that arrive while a batch runs form the next one, so the
/// batch grows with the load (the dynamic batching of model servers, with no added delay). The queue is bounded:
/// past <see cref="MaxQueue"/> requests a caller waits to enqueue (back pressure) rather than growing memory.
/// </summary>
public sealed class RequestBatcher : IAsyncDisposable
{
    private readonly Channel<Request> _queue;
    private readonly BatchPredict _predict;
    private readonly Task _worker;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>A batcher for a model of <paramref name="inputLength"/> floats in and <paramref name="outputLength"/> out.</summary>
    public RequestBatcher(BatchPredict predict, int inputLength, int outputLength, int maxBatch = 64, int maxQueue = 4096)
    {
        ArgumentNullException.ThrowIfNull(predict);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueue, 1);
        _predict = predict;
        InputLength = inputLength;
        OutputLength = outputLength;
        MaxBatch = maxBatch;
        MaxQueue = maxQueue;
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(maxQueue) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _worker = Task.Run(RunAsync);
    }

    public int InputLength { get; }
    public int OutputLength { get; }
    public int MaxBatch { get; }
    public int MaxQueue { get; }

    /// <summary>What the batcher has done, for /metrics.</summary>
    public ServingMetrics Metrics { get; } = new();

    /// <summary>Queues one sample and completes with its output.</summary>
    /// <exception cref="ArgumentException"><paramref name="input"/> is not <see cref="InputLength"/> floats.</exception>
    public async ValueTask<float[]> PredictAsync(float[] input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Length != InputLength)
            throw new ArgumentException($"Expected {InputLength} floats, got {input.Length}.", nameof(input));
        var request = new Request(input, Stopwatch.GetTimestamp());
        await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        return await request.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        var input = new float[MaxBatch * InputLength];
        var output = new float[MaxBatch * OutputLength];
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out Request? request)) batch.Add(request);
                for (int i = 0; i < batch.Count; i++) batch[i].Input.CopyTo(input, i * InputLength);
                try
                {
                    _predict(input.AsSpan(0, batch.Count * InputLength), output.AsSpan(0, batch.Count * OutputLength), batch.Count);
                }
                catch (Exception e)
                {
                    foreach (Request failed in batch) failed.Completion.TrySetException(e);
                    Metrics.Failed(batch.Count);
                    continue;
                }
                long now = Stopwatch.GetTimestamp();
                for (int i = 0; i < batch.Count; i++)
                {
                    batch[i].Completion.TrySetResult(output.AsSpan(i * OutputLength, OutputLength).ToArray());
                    Metrics.Completed(Stopwatch.GetElapsedTime(batch[i].Enqueued, now));
                }
                Metrics.Batch(batch.Count);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        // Whatever is still queued when the batcher stops is cancelled, never left waiting.
        while (_queue.Reader.TryRead(out Request? left)) left.Completion.TrySetCanceled();
    }

    /// <summary>Stops taking requests, finishes the batch in flight, and cancels what is still queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _worker.ConfigureAwait(false);
        _stop.Dispose();
    }

    private sealed class Request(float[] input, long enqueued)
    {
        public float[] Input { get; } = input;
        public long Enqueued { get; } = enqueued;
        public TaskCompletionSource<float[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
