using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace ModelCompiler.Kernels;

/// <summary>
/// Threads that share one kernel call with the calling thread (intra-op parallelism): the caller and each worker run
/// one part of the same job, then the caller waits for the workers. Started once (a decoder session with
/// <c>maxDegreeOfParallelism</c> above 1 owns one; a model's <c>Predict</c> rents a process-wide one, <see cref="Rent"/>), so a
/// call allocates nothing and creates no task; the parts are a static split chosen by the kernel. Calls must come from one
/// thread at a time (the session's lock, or the rent).
/// </summary>
/// <remarks>
/// A decode step calls its matrix products back to back, a few microseconds apart, so an idle worker spins on the job
/// counter for a while (about 100 µs) before it blocks: waking a blocked thread for each of a 125 M-parameter model's 85
/// products per token cost more than the second core saved on int4 weights.
/// </remarks>
public sealed class KernelWorkers : IDisposable
{
    private const int SpinRounds = 4000;
    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private IJob? _job;
    private int _generation;
    private int _nextPart;
    private int _pending;
    private int _sleepers;
    private volatile bool _disposed;
    private int _rented;
    private readonly AlignedBuffer?[] _partScratch;

    // Process-wide workers for Predict, by thread count (index), started on first use and kept for the process's life.
    private static KernelWorkers?[]? s_pools;

    /// <summary>A job whose <see cref="RunPart"/> runs part <c>part</c> of <c>parts</c>.</summary>
    internal interface IJob
    {
        void RunPart(int part, int parts);
    }

    /// <summary>
    /// A matrix product over 16-output panels (float32, int8 or int4 weights), shared by contiguous runs of panels: each
    /// output is computed by one thread, in the order one thread would. The kernel's buffers are pinned for the call.
    /// </summary>
    internal abstract unsafe class PanelJob : IJob
    {
        protected float* A, Bias, C;
        protected void* Weights;
        protected nint Lda, Rows, K, N, Ldc;

        public void Set(float* a, nint lda, nint rows, void* weights, float* bias, nint k, nint n, float* c, nint ldc)
        {
            A = a;
            Weights = weights;
            Bias = bias;
            C = c;
            (Lda, Rows, K, N, Ldc) = (lda, rows, k, n, ldc);
        }

        public void RunPart(int part, int parts)
        {
            nint panels = (N + PanelLayout.PanelWidth - 1) / PanelLayout.PanelWidth, share = (panels + parts - 1) / parts;
            nint first = part * share, last = Math.Min(panels, first + share);
            if (first < last) RunPanels(first, last);
        }

        /// <summary>Panels <c>[first, last)</c>, every row.</summary>
        protected abstract void RunPanels(nint first, nint last);
    }

    /// <summary>Starts <paramref name="threads"/> − 1 workers: with the calling thread, <paramref name="threads"/> run each job.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 2.</exception>
    public KernelWorkers(int threads)
    {
        if (threads < 2) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Workers share a call among at least two threads.");
        Parts = threads;
        _partScratch = new AlignedBuffer?[threads];
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = "ModelCompiler kernel worker" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run each job, the caller included.</summary>
    public int Parts { get; }

    /// <summary>
    /// The process-wide workers of <paramref name="maxDegreeOfParallelism"/> threads (-1: one per core; never more than
    /// the cores), for one call of a model's <c>Predict</c>; <see cref="Return"/> them after. Null when that is one thread,
    /// or when another call holds them: a caller that runs beside others already has the cores busy, so it runs alone
    /// instead of waiting.
    /// </summary>
    public static KernelWorkers? Rent(int maxDegreeOfParallelism)
    {
        int threads = ThreadsFor(maxDegreeOfParallelism);
        if (threads < 2) return null;
        KernelWorkers?[] pools = Volatile.Read(ref s_pools)
            ?? Interlocked.CompareExchange(ref s_pools, new KernelWorkers?[Environment.ProcessorCount + 1], null) ?? s_pools!;
        KernelWorkers? pool = Volatile.Read(ref pools[threads]);
        if (pool is null)
        {
            var started = new KernelWorkers(threads);
            pool = Interlocked.CompareExchange(ref pools[threads], started, null);
            if (pool is null) pool = started;
            else started.Dispose();
        }
        return pool.TryTake() ? pool : null;
    }

    /// <summary>Threads <see cref="Rent"/> gives for <paramref name="maxDegreeOfParallelism"/>: every core for -1, never more than the cores.</summary>
    internal static int ThreadsFor(int maxDegreeOfParallelism) =>
        maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : Math.Min(maxDegreeOfParallelism, Environment.ProcessorCount);

    /// <summary>Takes these workers for one caller: false while another holds them (until <see cref="Return"/>).</summary>
    internal bool TryTake() => Interlocked.CompareExchange(ref _rented, 1, 0) == 0;

    /// <summary>Hands back workers <see cref="Rent"/> gave (or <see cref="TryTake"/> took).</summary>
    public void Return() => Volatile.Write(ref _rented, 0);

    /// <summary>
    /// Part <paramref name="part"/>'s own scratch of at least <paramref name="floats"/> floats (part 0, the caller, uses the
    /// model's arena instead): allocated on the first call that needs that much, pinned, kept for later calls.
    /// </summary>
    internal unsafe float* PartScratch(int part, int floats)
    {
        AlignedBuffer? buffer = _partScratch[part];
        if (buffer is null || buffer.Length < floats) _partScratch[part] = buffer = new AlignedBuffer(floats);
        return (float*)Unsafe.AsPointer(ref buffer.Start);
    }

    /// <summary>
    /// A kernel's independent pieces of work (chunks of output positions, planes, heads), each with scratch of its own:
    /// <see cref="Run"/> computes pieces <c>[first, last)</c> with <c>scratch</c>. The struct holds the call's pointers, so
    /// every buffer must be pinned for the call (the kernels pin their operands).
    /// </summary>
    internal unsafe interface IChunks
    {
        void Run(int first, int last, float* scratch);
    }

    /// <summary>
    /// Multiply-adds below which a kernel call is not shared: handing out the parts and waiting for them (a microsecond or
    /// so while the workers spin, far more once they sleep) would cost more than the other threads save.
    /// </summary>
    public const long MinSharedWork = 32_768;

    /// <summary><paramref name="workers"/> when a call of <paramref name="work"/> multiply-adds is worth sharing, else null.</summary>
    internal static KernelWorkers? For(KernelWorkers? workers, long work) => work >= MinSharedWork ? workers : null;

    /// <summary>
    /// Runs pieces <c>[0, count)</c> of <paramref name="body"/>: on the calling thread with <paramref name="scratch"/> when
    /// there are no workers or fewer than two pieces, else split into contiguous runs, one per thread (the caller keeps
    /// <paramref name="scratch"/>; each worker gets <paramref name="scratchFloats"/> of its own). Each piece is computed by one
    /// thread exactly as on one, so the result does not depend on the split.
    /// </summary>
    internal static unsafe void Split<TBody>(KernelWorkers? workers, int count, in TBody body, float* scratch, int scratchFloats)
        where TBody : struct, IChunks
    {
        if (workers is null || count < 2)
        {
            TBody alone = body;
            alone.Run(0, count, scratch);
            return;
        }
        ChunkJob<TBody> job = ChunkJob<TBody>.Instance ??= new ChunkJob<TBody>();
        job.Set(workers, count, body, scratch, scratchFloats);
        workers.Run(job);
    }

    /// <summary>The job <see cref="Split"/> runs: a contiguous share of the pieces per part.</summary>
    private sealed unsafe class ChunkJob<TBody> : IJob where TBody : struct, IChunks
    {
        [ThreadStatic] internal static ChunkJob<TBody>? Instance;
        private KernelWorkers? _workers;
        private TBody _body;
        private int _count, _scratchFloats;
        private float* _scratch;

        public void Set(KernelWorkers workers, int count, in TBody body, float* scratch, int scratchFloats)
        {
            _workers = workers;
            _count = count;
            _body = body;
            _scratch = scratch;
            _scratchFloats = scratchFloats;
        }

        public void RunPart(int part, int parts)
        {
            int share = (_count + parts - 1) / parts, first = part * share, last = Math.Min(_count, first + share);
            if (first >= last) return;
            TBody body = _body;
            body.Run(first, last, part == 0 ? _scratch : _workers!.PartScratch(part, _scratchFloats));
        }
    }

    /// <summary>Runs part 0 of <paramref name="job"/> here and the others on the workers; returns when all are done.</summary>
    internal void Run(IJob job)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _job = job;
        _nextPart = 0;
        Volatile.Write(ref _pending, _threads.Length);
        Interlocked.Increment(ref _generation); // publishes the job to the spinning workers
        // A sleeping worker checked the generation under the lock before it waited, so it is woken here (never missed).
        lock (_gate)
            if (_sleepers > 0) Monitor.PulseAll(_gate);
        Exception? failure = null;
        try
        {
            job.RunPart(0, Parts);
        }
        catch (Exception e)
        {
            failure = e;
        }
        var wait = new SpinWait();
        while (Volatile.Read(ref _pending) > 0) wait.SpinOnce(sleep1Threshold: -1);
        _job = null;
        if (failure is not null) throw failure;
    }

    private void Work()
    {
        int seen = 0;
        while (true)
        {
            int rounds = 0;
            while (Volatile.Read(ref _generation) == seen)
            {
                if (_disposed) return;
                if (rounds++ < SpinRounds)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                lock (_gate)
                {
                    _sleepers++;
                    while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_gate);
                    _sleepers--;
                }
                rounds = 0;
            }
            seen = Volatile.Read(ref _generation);
            if (_disposed) return;
            int part = Interlocked.Increment(ref _nextPart);
            try
            {
                _job!.RunPart(part, Parts);
            }
            catch (Exception)
            {
                // A kernel part does not throw (its arguments were checked by the caller's part); never let a worker die.
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.Increment(ref _generation);
        lock (_gate) Monitor.PulseAll(_gate);
    }
}
