using System;
using ILGPU;
using ILGPU.Runtime;

namespace ModelCompiler.Gpu;

/// <summary>
/// A compiled model on one ILGPU accelerator: the weights uploaded once, every buffer allocated once for up to
/// <see cref="MaxBatch"/> samples, and the model's kernels (generated at build time, compiled by ILGPU when the model
/// is created). Generated code derives from it (<c>MyModel.CreateGpu(accelerator)</c>) and supplies <see cref="Run"/>.
/// Not thread-safe: one model object runs one batch at a time on its accelerator's default stream.
/// </summary>
public abstract class GpuModel : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _weights;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _arena;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _input;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _output;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _scratch;
    private bool _disposed;

    /// <summary>
    /// Uploads <paramref name="weights"/> and allocates the arena (<paramref name="arenaFloatsPerSample"/> per sample), the
    /// kernels' scratch (<paramref name="scratchFloatsPerSample"/> per sample: int8 layers' quantized rows) and staging buffers.
    /// </summary>
    protected GpuModel(Accelerator accelerator, int maxBatch, int inputLength, int outputLength, int arenaFloatsPerSample, ReadOnlySpan<float> weights,
        int scratchFloatsPerSample = 0)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "maxBatch must be at least 1.");
        Accelerator = accelerator;
        MaxBatch = maxBatch;
        InputLength = inputLength;
        OutputLength = outputLength;
        _weights = accelerator.Allocate1D<float>(Math.Max(1, weights.Length));
        if (weights.Length > 0) ((ArrayView<float>)_weights.View).SubView(0, weights.Length).CopyFromCPU(weights);
        _arena = accelerator.Allocate1D<float>(Math.Max(1L, (long)arenaFloatsPerSample * maxBatch));
        _input = accelerator.Allocate1D<float>((long)inputLength * maxBatch);
        _output = accelerator.Allocate1D<float>((long)outputLength * maxBatch);
        _scratch = accelerator.Allocate1D<float>(Math.Max(1L, (long)scratchFloatsPerSample * maxBatch));
    }

    /// <summary>The accelerator the model runs on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The largest batch one call takes (the buffers are sized for it).</summary>
    public int MaxBatch { get; }

    /// <summary>Bytes of weights on the device (int4 layers keep 4 bits a weight there, plus a scale per 32).</summary>
    public long WeightBytes => _weights.LengthInBytes;

    /// <summary>Floats in one input sample.</summary>
    public int InputLength { get; }

    /// <summary>Floats in one output sample.</summary>
    public int OutputLength { get; }

    /// <summary>
    /// Models that are a chain of Linear layers (an MLP) also have a kernel that runs the whole model in one launch, one
    /// group per sample with the activations in shared memory: batches up to this size use it (below a few hundred
    /// rows, launches cost more than the arithmetic); larger ones run a tiled GEMM per layer. 0 always uses the GEMMs.
    /// </summary>
    public int FusedBatchLimit { get; set; } = 256;

    /// <summary>The weights on the device: the CPU's buffer (the same bytes and layout), but int4 weights in their device form (<see cref="DeviceInt4"/>).</summary>
    protected ArrayView<float> Weights => _weights.View;

    /// <summary>Intermediate values: each at its per-sample offset times <see cref="MaxBatch"/>.</summary>
    protected ArrayView<float> Arena => _arena.View;

    /// <summary>The kernels' scratch (int8 layers quantize their input rows into it).</summary>
    protected ArrayView<float> Scratch => _scratch.View;

    /// <summary>Runs the model on <paramref name="batch"/> samples, copying from and to host memory; returns when the output is written.</summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or <paramref name="batch"/> is not in [1, <see cref="MaxBatch"/>]; nothing is written.</exception>
    public void Predict(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        CheckLive();
        CheckBatch(batch);
        if (input.Length != (long)batch * InputLength)
            throw new ArgumentException($"input must hold batch × {InputLength} = {(long)batch * InputLength} floats, but holds {input.Length}.", nameof(input));
        if (output.Length != (long)batch * OutputLength)
            throw new ArgumentException($"output must hold batch × {OutputLength} = {(long)batch * OutputLength} floats, but holds {output.Length}.", nameof(output));
        CheckInput(input);
        ArrayView<float> x = ((ArrayView<float>)_input.View).SubView(0, input.Length), y = ((ArrayView<float>)_output.View).SubView(0, output.Length);
        x.CopyFromCPU(input);
        Run(x, y, batch);
        Accelerator.Synchronize();
        y.CopyToCPU(output);
    }

    /// <summary>Runs the model on <paramref name="batch"/> samples already on the device (no copies); returns when the output is written.</summary>
    /// <exception cref="ArgumentException">A view has the wrong length, or <paramref name="batch"/> is not in [1, <see cref="MaxBatch"/>].</exception>
    public void Predict(ArrayView<float> input, ArrayView<float> output, int batch)
    {
        CheckLive();
        CheckBatch(batch);
        if (input.Length != (long)batch * InputLength)
            throw new ArgumentException($"input must hold batch × {InputLength} = {(long)batch * InputLength} floats, but holds {input.Length}.", nameof(input));
        if (output.Length != (long)batch * OutputLength)
            throw new ArgumentException($"output must hold batch × {OutputLength} = {(long)batch * OutputLength} floats, but holds {output.Length}.", nameof(output));
        Run(input, output, batch);
        Accelerator.Synchronize();
    }

    /// <summary>
    /// Runs every kernel once on a batch of zeros, so that the first real call pays no start-up cost left after
    /// creation (ILGPU compiles the kernels when the model is created; the first launches still set up the driver's state).
    /// </summary>
    public void Warmup()
    {
        CheckLive();
        ArrayView<float> x = ((ArrayView<float>)_input.View).SubView(0, InputLength);
        x.MemSetToZero();
        Run(x, ((ArrayView<float>)_output.View).SubView(0, OutputLength), 1);
        Accelerator.Synchronize();
    }

    /// <summary>Checks the input's values before anything runs (token ids in range); the generated model overrides it where it reads ids.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value the model cannot take; nothing is written.</exception>
    protected virtual void CheckInput(ReadOnlySpan<float> input)
    {
    }

    /// <summary>Launches the model's kernels, in order, on the accelerator's default stream.</summary>
    protected abstract void Run(ArrayView<float> input, ArrayView<float> output, int batch);

    /// <summary>A launch grid of <paramref name="count"/> items in groups of <paramref name="group"/>, at least one group.</summary>
    protected static int Groups(long count, int group) => (int)Math.Max(1, (count + group - 1) / group);

    /// <summary>
    /// The model and its accelerator are both alive: a launch on a disposed accelerator would end the process (ILGPU's
    /// "Sub view out of range" cannot be caught), so it is an <see cref="ObjectDisposedException"/> here instead.
    /// </summary>
    private void CheckLive()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Accelerator.IsDisposed)
            throw new ObjectDisposedException(nameof(Accelerator), "The accelerator this model was created on has been disposed; create the model again on a live accelerator.");
    }

    private void CheckBatch(int batch)
    {
        if (batch < 1 || batch > MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch must be between 1 and {MaxBatch} (the maxBatch the model was created with).");
    }

    /// <summary>Frees the device buffers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _weights.Dispose();
        _arena.Dispose();
        _input.Dispose();
        _output.Dispose();
        _scratch.Dispose();
        GC.SuppressFinalize(this);
    }
}
