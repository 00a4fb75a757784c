// The GPU emitter's GEMM-shaped kernels: a Linear's tiled GEMM and a convolution as an implicit GEMM.
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Passes;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    /// <summary>
    /// The GEMM the emitter writes for a Linear of <paramref name="n"/> outputs and <paramref name="k"/> inputs (weights
    /// packed in panels from 0, bias after them, no epilogue), as a method named <c>GpuK0</c>: the GPU benchmark runs
    /// exactly this for its 4096³ measurement (a test keeps its copy equal to it), without a 64 MB weights file.
    /// </summary>
    public static string GemmKernel(int n, int k)
    {
        var plan = new KernelPlan(0, KernelKind.Linear, $"Linear [{k}] → [{n}]", EquatableArray<string>.Empty, new Operand(BufferKind.Input, 0), null,
            new Operand(BufferKind.Output, 0), 1, k, n, 0, ModelCompiler.Kernels.PanelLayout.PackedLength(n, k), EquatableArray<EpilogueStep>.Empty,
            EquatableArray<int>.Empty, EquatableArray<int>.Empty, EquatableArray<int>.Empty, 2L * n * k);
        var w = new SourceWriter();
        WriteGemm(w, plan, null, null);
        return w.ToString().Replace("private static void GpuK0(", "internal static void GpuK0("); // callable from the benchmark
    }

    /// <summary>
    /// The tiled GEMM of one Linear: <c>y[m, n] = epilogue(bias[n] + Σₖ a[m, k] · W[n, k])</c>, W read from its panels.
    /// Group (16, 16) computes rows [64·Grid.Y, +64) × outputs [64·Grid.X, +64); thread (x, y) holds a 4×4 block in
    /// sixteen scalar locals (registers: ILGPU keeps separate scalars there, not arrays).
    /// </summary>
    private static void WriteGemm(SourceWriter w, KernelPlan k, KernelPlan? residual, Int4Place? int4)
    {
        w.Open($"private static void GpuK{k.Index}({View} a, {View} w, {View} y, {(residual is null ? "" : $"{View} r, {View} z, ")}int rows)");
        w.Line($"const int N = {k.N}, K = {k.K}, {(int4 is null ? $"Weight = {k.WeightOffset}, " : "")}Bias = {k.BiasOffset};");
        if (int4 is not null) w.Line("// Int4 weights: read at 4 bits a weight, dequantized as the tile is loaded.");
        w.Line($"{View} tileA = {Ilgpu}SharedMemory.Allocate<float>({Depth * Tile}); // [k][row]");
        w.Line($"{View} tileB = {Ilgpu}SharedMemory.Allocate<float>({Depth * Tile}); // [k][output]");
        w.Line($"int tx = {Ilgpu}Group.IdxX, ty = {Ilgpu}Group.IdxY, t = ty * {Threads} + tx;");
        w.Line($"int m0 = {Ilgpu}Grid.IdxY * {Tile}, n0 = {Ilgpu}Grid.IdxX * {Tile};");
        for (int i = 0; i < PerThread; i++)
            w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(j => $"c{i}{j} = 0f")) + ";");
        w.Open($"for (int k0 = 0; k0 < K; k0 += {Depth})");
        w.Line($"// {Tile} rows × {Depth} k of a (consecutive threads read along a row), {Depth} k × {Tile} outputs of W (along a panel).");
        w.Open($"for (int l = 0; l < {Tile * Depth / (Threads * Threads)}; l++)");
        w.Line($"int e = t + l * {Threads * Threads};");
        w.Line($"int am = e / {Depth}, ak = e % {Depth}, gm = m0 + am, gk = k0 + ak;");
        w.Line($"tileA[ak * {Tile} + am] = gm < rows && gk < K ? a[(long)gm * K + gk] : 0f;");
        w.Line($"int bk = e / {Tile}, bn = e % {Tile}, gn = n0 + bn, gk2 = k0 + bk;");
        w.Line($"tileB[bk * {Tile} + bn] = gn < N && gk2 < K ? {(int4 is null ? "w[Weight + ((long)(gn >> 4) * K + gk2) * 16 + (gn & 15)]" : Int4Weight(int4, "gn", "gk2"))} : 0f;");
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Open($"for (int kk = 0; kk < {Depth}; kk++)");
        w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(i => $"a{i} = tileA[kk * {Tile} + ty * {PerThread} + {i}]")) + ";");
        w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(j => $"b{j} = tileB[kk * {Tile} + tx * {PerThread} + {j}]")) + ";");
        for (int i = 0; i < PerThread; i++)
            w.Line(string.Join(" ", Enumerable.Range(0, PerThread).Select(j => $"c{i}{j} += a{i} * b{j};")));
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Close();
        w.Line($"int row0 = m0 + ty * {PerThread}, col0 = n0 + tx * {PerThread};");
        for (int i = 0; i < PerThread; i++)
        for (int j = 0; j < PerThread; j++)
            w.Line($"if (row0 + {i} < rows && col0 + {j} < N) {Store(k, residual, $"(long)(row0 + {i}) * N + col0 + {j}", $"c{i}{j} + w[Bias + col0 + {j}]")}");
        w.Close();
    }

    /// <summary>
    /// A convolution as an implicit GEMM, per sample (Grid.Z): out[o, p] = Σₖ W[o, k] · patch[k, p] over k = (input
    /// channel, tap), p = output position; the same 64×64 tiles, 4×4 per thread and K steps of 8 as the Linear GEMM, the
    /// patch tile gathered from the input (zero outside it) instead of read, the output written in [C, H, W].
    /// </summary>
    private static void WriteImplicitConvolution(SourceWriter w, KernelPlan k, KernelPlan? residual)
    {
        int[] g = k.Shape.ToArray();
        int c = g[0], h = g[1], width = g[2], n = g[3], kh = g[4], kw = g[5], stride = g[6], padding = g[7], dilation = g[8], oh = g[9], ow = g[10], padTop = g[12];
        w.Open($"private static void GpuK{k.Index}({View} a, {View} w, {View} y, {(residual is null ? "" : $"{View} r, {View} z, ")}int batch)");
        w.Line($"const int N = {n}, K = {c * kh * kw}, P = {oh * ow}, Weight = {k.WeightOffset}, Bias = {k.BiasOffset};");
        w.Line($"{View} tileW = {Ilgpu}SharedMemory.Allocate<float>({Depth * Tile}); // [k][out channel]");
        w.Line($"{View} tileP = {Ilgpu}SharedMemory.Allocate<float>({Depth * Tile}); // [k][position]");
        w.Line($"int tx = {Ilgpu}Group.IdxX, ty = {Ilgpu}Group.IdxY, t = ty * {Threads} + tx;");
        w.Line($"int p0 = {Ilgpu}Grid.IdxX * {Tile}, o0 = {Ilgpu}Grid.IdxY * {Tile};");
        w.Line($"long x0 = (long){Ilgpu}Grid.IdxZ * {c * h * width};");
        for (int i = 0; i < PerThread; i++)
            w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(j => $"c{i}{j} = 0f")) + ";");
        w.Open($"for (int k0 = 0; k0 < K; k0 += {Depth})");
        w.Open($"for (int l = 0; l < {Tile * Depth / (Threads * Threads)}; l++)");
        w.Line($"int e = t + l * {Threads * Threads};");
        w.Line($"int wo = e / {Depth}, wk = e % {Depth}, go = o0 + wo, gk = k0 + wk;");
        w.Line($"tileW[wk * {Tile} + wo] = go < N && gk < K ? w[Weight + (long)go * K + gk] : 0f;");
        w.Line($"int pk = e / {Tile}, pp = e % {Tile}, gp = p0 + pp, gk2 = k0 + pk;");
        w.Line("float value = 0f;");
        w.Open("if (gp < P && gk2 < K)");
        w.Line($"int ci = gk2 / {kh * kw}, tap = gk2 % {kh * kw}, iy = gp / {ow} * {stride} - {padTop} + tap / {kw} * {dilation}, ix = gp % {ow} * {stride} - {padding} + tap % {kw} * {dilation};");
        w.Line($"if (iy >= 0 && iy < {h} && ix >= 0 && ix < {width}) value = a[x0 + ((long)ci * {h} + iy) * {width} + ix];");
        w.Close();
        w.Line($"tileP[pk * {Tile} + pp] = value;");
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Open($"for (int kk = 0; kk < {Depth}; kk++)");
        w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(i => $"a{i} = tileW[kk * {Tile} + ty * {PerThread} + {i}]")) + ";");
        w.Line("float " + string.Join(", ", Enumerable.Range(0, PerThread).Select(j => $"b{j} = tileP[kk * {Tile} + tx * {PerThread} + {j}]")) + ";");
        for (int i = 0; i < PerThread; i++)
            w.Line(string.Join(" ", Enumerable.Range(0, PerThread).Select(j => $"c{i}{j} += a{i} * b{j};")));
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Close();
        w.Line($"int row0 = o0 + ty * {PerThread}, col0 = p0 + tx * {PerThread};");
        w.Line($"long y0 = (long){Ilgpu}Grid.IdxZ * N * P;");
        for (int i = 0; i < PerThread; i++)
        for (int j = 0; j < PerThread; j++)
            w.Line($"if (row0 + {i} < N && col0 + {j} < P) {Store(k, residual, $"y0 + (long)(row0 + {i}) * P + col0 + {j}", $"c{i}{j} + w[Bias + row0 + {i}]")}");
        w.Close();
    }
}
