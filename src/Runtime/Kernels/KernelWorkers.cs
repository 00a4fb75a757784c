using System;
using System.Threading;

namespace ModelCompiler.Kernels;

/// <summary>
/// Threads that share one kernel call with the calling thread (intra-op parallelism): the caller and each worker run
/// one part of the same job, then the caller waits for the workers. Started once (a decoder session with
/// <c>maxDegreeOfParallelism</c> above 1 owns one), so a call allocates nothing and creates no task; the parts are a static
/// split chosen by the kernel. Calls must come from one thread at a time (the session's lock).
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
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = "ModelCompiler kernel worker" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run each job, the caller included.</summary>
    public int Parts { get; }

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
