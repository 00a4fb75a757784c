using System;
using System.Threading.Tasks;

namespace ModelCompiler.Kernels;

/// <summary>
/// Runs a compiled model over rows <c>[0, rows)</c> of its input, writing the same rows of its output, with
/// <paramref name="weights"/> (the model's weights buffer, read once per call so that weights replaced during a call
/// reach the next call only; null for a model without weights) and <paramref name="workers"/> (threads that share each
/// larger kernel, the spans pinned for the call; null to stay on the calling thread).
/// </summary>
public delegate void RowsKernel(ReadOnlySpan<float> input, Span<float> output, int rows, AlignedBuffer? weights, KernelWorkers? workers);

/// <summary>Cuts a batch into chunks that fit a model's scratch arena, on one core or several.</summary>
public static class BatchRunner
{
    /// <summary>Rows below which a worker is not worth starting (for a sample of unknown or little work).</summary>
    public const int MinRowsPerWorker = 8;

    /// <summary>
    /// Multiply-adds ×2 a worker's share of a batch needs for the batch to be split by samples: with samples this large a
    /// worker gets fewer than <see cref="MinRowsPerWorker"/> rows (one, for a 16 MFLOP sample or larger). Starting the
    /// workers costs microseconds; this is hundreds of them. Sharing each kernel instead pays a hand-off and a join per
    /// kernel and splits small layers poorly: the speech embedding at batch 8 on two cores ran no faster than on one.
    /// </summary>
    public const long SampleSplitFlops = 16_000_000;

    /// <summary>The fewest rows per worker for samples of <paramref name="flopsPerSample"/> (0: unknown, <see cref="MinRowsPerWorker"/>).</summary>
    public static int MinRows(long flopsPerSample) =>
        flopsPerSample <= 0 ? MinRowsPerWorker : (int)Math.Clamp((SampleSplitFlops + flopsPerSample - 1) / flopsPerSample, 1, MinRowsPerWorker);

    /// <summary>
    /// Runs <paramref name="kernel"/> over the batch in chunks of at most <paramref name="chunkRows"/> rows.
    /// With <paramref name="parallel"/> (the call has work enough to pay for other threads), up to
    /// <paramref name="maxDegreeOfParallelism"/> cores (every core when it is -1) share it: a batch of at least
    /// <see cref="MinRows"/> rows per core (fewer for samples of more work: <paramref name="flopsPerSample"/>) is split into one contiguous range of samples per core, each running its
    /// own chunks; a smaller one (one sample included) runs its chunks in order with the process's shared
    /// <see cref="KernelWorkers"/>, which split the work inside each larger kernel (output positions, planes, heads, panels).
    /// When another call holds those workers, this one runs on the calling thread (the cores are busy anyway).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below -1.</exception>
    public static void Run(ReadOnlySpan<float> input, Span<float> output, int batch, int inputLength, int outputLength,
        int chunkRows, bool parallel, int maxDegreeOfParallelism, AlignedBuffer? weights, RowsKernel kernel, long flopsPerSample = 0)
    {
        // As ParallelOptions.MaxDegreeOfParallelism: -1 (no limit) or a positive count; checked before anything is written.
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism,
                "maxDegreeOfParallelism must be -1 (every core) or a positive number of cores.");
        int workers = 1;
        if (parallel)
        {
            int cores = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
            workers = Math.Max(1, Math.Min(cores, batch / MinRows(flopsPerSample)));
        }
        if (workers > 1) RunParallel(input, output, batch, inputLength, outputLength, chunkRows, workers, weights, kernel);
        else if (parallel) RunShared(input, output, batch, inputLength, outputLength, chunkRows, maxDegreeOfParallelism, weights, kernel);
        else RunRange(input, output, 0, batch, inputLength, outputLength, chunkRows, weights, null, kernel);
    }

    // The rows in order on this thread, each kernel shared with the process's workers when they are free.
    private static unsafe void RunShared(ReadOnlySpan<float> input, Span<float> output, int batch, int inputLength, int outputLength,
        int chunkRows, int maxDegreeOfParallelism, AlignedBuffer? weights, RowsKernel kernel)
    {
        KernelWorkers? shared = KernelWorkers.Rent(maxDegreeOfParallelism);
        if (shared is null)
        {
            RunRange(input, output, 0, batch, inputLength, outputLength, chunkRows, weights, null, kernel);
            return;
        }
        try
        {
            // The kernels hand the workers raw pointers into the caller's spans: pinned for the call.
            fixed (float* inputPointer = input)
            fixed (float* outputPointer = output)
                RunRange(input, output, 0, batch, inputLength, outputLength, chunkRows, weights, shared, kernel);
        }
        finally
        {
            shared.Return();
        }
    }

    // Separate from Run so that the closure the lambda needs is only allocated on this path.
    private static unsafe void RunParallel(ReadOnlySpan<float> input, Span<float> output, int batch, int inputLength, int outputLength,
        int chunkRows, int workers, AlignedBuffer? weights, RowsKernel kernel)
    {
        // Spans cannot enter a lambda; the memory is pinned for the duration of the call instead.
        fixed (float* inputPointer = input)
        fixed (float* outputPointer = output)
        {
            nint inAddress = (nint)inputPointer, outAddress = (nint)outputPointer;
            int inLength = input.Length, outLength = output.Length;
            int rowsPerWorker = (batch + workers - 1) / workers;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
            {
                int start = worker * rowsPerWorker;
                int end = Math.Min(batch, start + rowsPerWorker);
                var allInput = new ReadOnlySpan<float>((float*)inAddress, inLength);
                var allOutput = new Span<float>((float*)outAddress, outLength);
                RunRange(allInput, allOutput, start, end, inputLength, outputLength, chunkRows, weights, null, kernel);
            });
        }
    }

    private static void RunRange(ReadOnlySpan<float> input, Span<float> output, int start, int end, int inputLength,
        int outputLength, int chunkRows, AlignedBuffer? weights, KernelWorkers? workers, RowsKernel kernel)
    {
        for (int row = start; row < end; row += chunkRows)
        {
            int rows = Math.Min(chunkRows, end - row);
            kernel(input.Slice(row * inputLength, rows * inputLength), output.Slice(row * outputLength, rows * outputLength), rows, weights, workers);
        }
    }
}
