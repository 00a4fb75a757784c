using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace ModelCompiler.Benchmarks;

/// <summary>
/// The fp32 FMA ceiling of one core at the widest vector the CPU has: 12 independent multiply-add chains, no memory
/// (so a kernel's GFLOP/s can be stated as a share of it). 2 × lanes × 12 × 1,000,000 FLOP per call.
/// </summary>
public class PeakBenchmark
{
    public const long Flops = 2L * 12 * 1_000_000;

    /// <summary>FLOP per call ÷ time = GFLOP/s (Vector256 lanes; on an AVX-512 CPU the 512-bit figure is <see cref="Fma512"/>).</summary>
    [Benchmark]
    public float Fma256() => Chains256(1_000_000 / 8 * 8);

    [Benchmark]
    public float Fma512() => Vector512.IsHardwareAccelerated ? Chains512(1_000_000 / 16 * 16) : 0f;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(int lanesTimesSteps)
    {
        Vector256<float> m = Vector256.Create(0.999999f), b = Vector256.Create(1e-7f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (int i = 0; i < lanesTimesSteps / 8; i++)
        {
            a0 = Vector256.MultiplyAddEstimate(a0, m, b); a1 = Vector256.MultiplyAddEstimate(a1, m, b); a2 = Vector256.MultiplyAddEstimate(a2, m, b);
            a3 = Vector256.MultiplyAddEstimate(a3, m, b); a4 = Vector256.MultiplyAddEstimate(a4, m, b); a5 = Vector256.MultiplyAddEstimate(a5, m, b);
            a6 = Vector256.MultiplyAddEstimate(a6, m, b); a7 = Vector256.MultiplyAddEstimate(a7, m, b); a8 = Vector256.MultiplyAddEstimate(a8, m, b);
            a9 = Vector256.MultiplyAddEstimate(a9, m, b); a10 = Vector256.MultiplyAddEstimate(a10, m, b); a11 = Vector256.MultiplyAddEstimate(a11, m, b);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(int lanesTimesSteps)
    {
        Vector512<float> m = Vector512.Create(0.999999f), b = Vector512.Create(1e-7f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (int i = 0; i < lanesTimesSteps / 16; i++)
        {
            a0 = Vector512.MultiplyAddEstimate(a0, m, b); a1 = Vector512.MultiplyAddEstimate(a1, m, b); a2 = Vector512.MultiplyAddEstimate(a2, m, b);
            a3 = Vector512.MultiplyAddEstimate(a3, m, b); a4 = Vector512.MultiplyAddEstimate(a4, m, b); a5 = Vector512.MultiplyAddEstimate(a5, m, b);
            a6 = Vector512.MultiplyAddEstimate(a6, m, b); a7 = Vector512.MultiplyAddEstimate(a7, m, b); a8 = Vector512.MultiplyAddEstimate(a8, m, b);
            a9 = Vector512.MultiplyAddEstimate(a9, m, b); a10 = Vector512.MultiplyAddEstimate(a10, m, b); a11 = Vector512.MultiplyAddEstimate(a11, m, b);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
