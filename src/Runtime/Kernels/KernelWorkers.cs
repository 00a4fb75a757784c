using System;
using System.Threading;

namespace ModelCompiler.Kernels;

/// <summary>
/// Threads that share one kernel call with the calling thread (intra-op parallelism): the caller and each worker run
/// one part of the same job, then the caller waits for the workers. Started once (a decoder session with
/// <c>maxDegreeOfParallelism</c> above 1 owns one), so a call allocates nothing and creates no task; the parts are a static
/// split chosen by the kernel. Calls must come from one thread at a time (the session's lock).
/// </summary>
public sealed class KernelWorkers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _start = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private IJob? _job;
    private int _nextPart;
    private volatile bool _disposed;

    /// <summary>A job whose <see cref="RunPart"/> runs part <c>part</c> of <c>parts</c>.</summary>
    internal interface IJob
    {
        void RunPart(int part, int parts);
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
        _start.Release(_threads.Length);
        Exception? failure = null;
        try
        {
            job.RunPart(0, Parts);
        }
        catch (Exception e)
        {
            failure = e;
        }
        for (int i = 0; i < _threads.Length; i++) _done.Wait();
        _job = null;
        if (failure is not null) throw failure;
    }

    private void Work()
    {
        while (true)
        {
            _start.Wait();
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
                _done.Release();
            }
        }
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _start.Release(_threads.Length);
    }
}
