using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using ModelCompiler.Kernels;

namespace ModelCompiler.Benchmarks;

/// <summary>
/// What keeping NaN costs in ReLU (issue 13): the NaN-keeping form the kernels use now (<see cref="ReluOperator"/>: the
/// IEEE maximum, which beat a compare-and-clear and a select here) against the plain max instruction it replaced (MaxNative, which returns 0 for NaN on x86),
/// in the store of the 784→512 GEMM of the MLP benchmark and as a pass of its own over the same [rows, 512] values.
/// </summary>
public class ReluBenchmark
{
    private const int K = 784, N = 512;
    private float[] _x = Array.Empty<float>(), _w = Array.Empty<float>(), _b = Array.Empty<float>(), _y = Array.Empty<float>(), _z = Array.Empty<float>();

    [Params(1, 64)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void GlobalSetup()
    {
        var random = new Random(1);
        int padded = (N + 15) / 16 * 16;
        _x = new float[Rows * K];
        _w = new float[padded * K]; // panels of 16 outputs, K-major: the values do not matter for the timing
        _b = new float[padded];
        _y = new float[Rows * N];
        _z = new float[Rows * N];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(random.NextDouble() * 2 - 1);
        for (int i = 0; i < _w.Length; i++) _w[i] = (float)(random.NextDouble() * 0.1 - 0.05);
    }

    [Benchmark(Baseline = true, Description = "GEMM + ReLU, MaxNative (before)")]
    public void GemmMaxNative() => PackedLinear.Run<MaxNativeRelu>(ref _x[0], K, Rows, ref _w[0], ref _b[0], K, N, ref _y[0], N);

    [Benchmark(Description = "GEMM + ReLU, NaN-keeping (now)")]
    public void GemmNaNKeeping() => PackedLinear.Run<ReluOperator>(ref _x[0], K, Rows, ref _w[0], ref _b[0], K, N, ref _y[0], N);

    [Benchmark(Description = "ReLU pass, MaxNative (before)")]
    public void PassMaxNative() => Elementwise.Run<MaxNativeRelu>(ref _y[0], ref _z[0], Rows, N);

    [Benchmark(Description = "ReLU pass, NaN-keeping (now)")]
    public void PassNaNKeeping() => Elementwise.Run<ReluOperator>(ref _y[0], ref _z[0], Rows, N);

    /// <summary>The ReLU the kernels used before: <c>max(x, 0)</c> by the plain max instruction.</summary>
    private readonly struct MaxNativeRelu : IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x) => MathF.Max(x, 0f);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x) => Vector128.MaxNative(x, Vector128<float>.Zero);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x) => Vector256.MaxNative(x, Vector256<float>.Zero);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x) => Vector512.MaxNative(x, Vector512<float>.Zero);
    }
}
