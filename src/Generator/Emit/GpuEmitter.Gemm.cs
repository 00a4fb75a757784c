// The GPU emitter's GEMM-shaped kernels: a Linear's tiled GEMM and a convolution as an implicit GEMM.
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    /// <summary>
    /// The GEMM the emitter writes for a Linear of <paramref name="n"/> outputs and <paramref name="k"/> inputs (weights
    /// packed in panels from 0, bias after them, no epilogue), as a method named <paramref name="name"/>: the GPU benchmark
    /// runs exactly this for its 4096³ measurement (a test keeps its copy equal to it), without a 64 MB weights file. The
    /// block tile and the outputs per thread can be other than the models' (64, 4), so the benchmark can measure
    /// candidates on a GPU in the same run.
    /// </summary>
    public static string GemmKernel(int n, int k, string name = "GpuK0", int tile = Tile, int perThread = PerThread)
    {
        var linear = new LinearOp(Rows: 1, K: k, N: n, LinearWeights.Float32, WeightOffset: 0, BiasOffset: PanelLayout.PackedLength(n, k));
        var plan = new KernelPlan(0, $"Linear [{k}] → [{n}]", EquatableArray<string>.Empty, new Operand(BufferKind.Input, 0), null,
            new Operand(BufferKind.Output, 0), linear, EquatableArray<EpilogueStep>.Empty, 2L * n * k);
        var w = new SourceWriter();
        WriteGemm(w, plan, null, null, new GemmShape(tile, perThread));
        return w.ToString().Replace("private static void GpuK0(", $"internal static void {name}("); // callable from the benchmark
    }

    /// <summary>
    /// A GEMM's blocking: a group computes a Tile × Tile block of outputs with (Tile / PerThread)² threads, each
    /// PerThread × PerThread outputs in scalar locals (registers: ILGPU keeps separate scalars there, not arrays),
    /// K in steps of <see cref="Depth"/> through shared memory.
    /// </summary>
    private sealed record GemmShape(int Tile, int PerThread)
    {
        public int Threads => Tile / PerThread;

        /// <summary>
        /// The row stride of the left tile in shared memory, [k][row]: 4 more than the tile, so that the transposing stores
        /// (a warp writes 4 rows × 8 k) fall in 32 different banks.
        /// </summary>
        public int LeftStride => Tile + 4;
        public static readonly GemmShape Models = new(GpuEmitter.Tile, GpuEmitter.PerThread);
    }

    /// <summary>
    /// The tiled GEMM of one Linear: <c>y[m, n] = epilogue(bias[n] + Σₖ a[m, k] · W[n, k])</c>, W read from its panels
    /// (or int4 codes, dequantized as the tile is loaded). An int8 Linear reads its input rows' codes and scales from the
    /// scratch (GpuK…Rows wrote them) and its weight codes from their panels, sums in int32 (exact, as the CPU kernel)
    /// and dequantizes in the store: <c>(float)sum · (row scale · weight scale) + bias</c>. Group (16, 16) computes rows [64·Grid.Y, +64) × outputs
    /// [64·Grid.X, +64); thread (x, y) holds rows y + 16i and outputs x + 16j, i, j &lt; 4 (interleaved, not a
    /// contiguous 4×4 block: a warp's shared-memory reads hit 32 banks or one broadcast, its stores are consecutive).
    /// </summary>
    private static void WriteGemm(SourceWriter w, KernelPlan k, KernelPlan? residual, Int4Place? int4, GemmShape? shape = null)
    {
        GemmShape g = shape ?? GemmShape.Models;
        bool int8 = k.Quantized;
        string type = int8 ? "int" : "float", tileView = int8 ? $"{Ilgpu}ArrayView<int>" : View;
        w.OpenWrapped($"private static void GpuK{k.Index}({View} a, {View} w, {View} y, {(residual is null ? "" : $"{View} r, {View} z, ")}int rows)");
        var l = (LinearOp)k.Op;
        bool panels4 = l.Weights == LinearWeights.Int4Packed;
        w.Line($"const int N = {l.N}, K = {l.K}, {(int4 is null ? $"Weight = {l.WeightOffset}, " : "")}{(int8 ? $"Words = {(l.K + 3) / 4}, Scales = {l.ScalesOffset}, " : "")}{(panels4 ? $"PanelFloats = {Int4PanelLayout.PanelFloats(l.K)}, " : "")}Bias = {l.BiasOffset};");
        if (int4 is not null) w.Line("// Int4 weights: read at 4 bits a weight, dequantized as the tile is loaded.");
        if (panels4) w.Line("// Int4 weights as the CPU keeps them (Int4PanelLayout), dequantized as the tile is loaded; a holds the rounded rows.");
        if (int8) w.Line("// Int8: a holds each row's K codes (as floats) and its scale; the weight codes are four to a word (QuantizedPanelLayout).");
        w.Line($"{tileView} tileA = {Ilgpu}SharedMemory.Allocate<{type}>({Depth * g.LeftStride}); // [k][row], rows padded");
        w.Line($"{tileView} tileB = {Ilgpu}SharedMemory.Allocate<{type}>({Depth * g.Tile}); // [k][output]");
        w.Line($"int tx = {Ilgpu}Group.IdxX, ty = {Ilgpu}Group.IdxY, t = ty * {g.Threads} + tx;");
        w.Line($"int m0 = {Ilgpu}Grid.IdxY * {g.Tile}, n0 = {Ilgpu}Grid.IdxX * {g.Tile};");
        Accumulators(w, g, type);
        w.Open($"for (int k0 = 0; k0 < K; k0 += {Depth})");
        w.Line($"// {g.Tile} rows × {Depth} k of a (consecutive threads read along a row), {Depth} k × {g.Tile} outputs of W (along a panel).");
        w.Open($"for (int l = 0; l < {g.Tile * Depth / (g.Threads * g.Threads)}; l++)");
        w.Line($"int e = t + l * {g.Threads * g.Threads};");
        w.Line($"int am = e / {Depth}, ak = e % {Depth}, gm = m0 + am, gk = k0 + ak;");
        w.Line($"int bk = e / {g.Tile}, bn = e % {g.Tile}, gn = n0 + bn, gk2 = k0 + bk;");
        if (int8)
        {
            w.Line($"tileA[ak * {g.LeftStride} + am] = gm < rows && gk < K ? (int)a[(long)gm * (K + 1) + gk] : 0;");
            w.Line("tileB[bk * " + g.Tile + " + bn] = gn < N && gk2 < K ? (int)(sbyte)((int)global::ILGPU.Interop.FloatAsInt(w[Weight + ((long)(gn >> 4) * Words + (gk2 >> 2)) * 16 + (gn & 15)]) >> (8 * (gk2 & 3))) : 0;");
        }
        else
        {
            w.Line($"tileA[ak * {g.LeftStride} + am] = gm < rows && gk < K ? a[(long)gm * K + gk] : 0f;");
            w.Line($"tileB[bk * {g.Tile} + bn] = gn < N && gk2 < K ? {(panels4 ? "GpuInt4Panel(w, Weight, PanelFloats, gn, gk2)" : int4 is null ? "w[Weight + ((long)(gn >> 4) * K + gk2) * 16 + (gn & 15)]" : Int4Weight(int4, "gn", "gk2"))} : 0f;");
        }
        w.Close();
        MultiplyTiles(w, g, "tileA", "tileB", type);
        w.Close();
        for (int i = 0; i < g.PerThread; i++)
        for (int j = 0; j < g.PerThread; j++)
        {
            string row = $"m0 + ty + {i * g.Threads}", col = $"n0 + tx + {j * g.Threads}";
            string value = int8 ? $"c{i}_{j} * (a[(long)({row}) * (K + 1) + K] * w[Scales + {col}]) + w[Bias + {col}]" : $"c{i}_{j} + w[Bias + {col}]";
            w.Line($"if ({row} < rows && {col} < N) {Store(k, residual, $"(long)({row}) * N + {col}", value)}");
        }
        w.Close();
    }

    /// <summary>The accumulators <c>c{i}_{j}</c>, one line per row.</summary>
    private static void Accumulators(SourceWriter w, GemmShape g, string type = "float")
    {
        for (int i = 0; i < g.PerThread; i++)
            w.Line(type + " " + string.Join(", ", Enumerable.Range(0, g.PerThread).Select(j => $"c{i}_{j} = {(type == "float" ? "0f" : "0")}")) + ";");
    }

    /// <summary>
    /// After a barrier, the product of the two shared tiles into the accumulators: per k, the thread's column of the
    /// left tile (rows ty + Threads·i) and row of the right (columns tx + Threads·j) into registers, then their outer
    /// product; a barrier after, before the tiles are loaded again.
    /// </summary>
    private static void MultiplyTiles(SourceWriter w, GemmShape g, string left, string right, string type = "float")
    {
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Open($"for (int kk = 0; kk < {Depth}; kk++)");
        w.Line(type + " " + string.Join(", ", Enumerable.Range(0, g.PerThread).Select(i => $"a{i} = {left}[kk * {g.LeftStride} + ty + {i * g.Threads}]")) + ";");
        w.Line(type + " " + string.Join(", ", Enumerable.Range(0, g.PerThread).Select(j => $"b{j} = {right}[kk * {g.Tile} + tx + {j * g.Threads}]")) + ";");
        for (int i = 0; i < g.PerThread; i++)
            w.Line(string.Join(" ", Enumerable.Range(0, g.PerThread).Select(j => $"c{i}_{j} += a{i} * b{j};")));
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
    }

    /// <summary>
    /// A convolution as an implicit GEMM, per sample (Grid.Z): out[o, p] = Σₖ W[o, k] · patch[k, p] over k = (input
    /// channel, tap), p = output position; the same 64×64 tiles, thread mapping and K steps of 8 as the Linear GEMM, the
    /// patch tile gathered from the input (zero outside it) instead of read, the output written in [C, H, W].
    /// </summary>
    private static void WriteImplicitConvolution(SourceWriter w, KernelPlan k, KernelPlan? residual)
    {
        GemmShape s = GemmShape.Models;
        var conv = (ConvOp)k.Op;
        ConvGeometry g = conv.Geometry;
        int c = g.Channels, h = g.Height, width = g.Width, n = g.OutChannels, kh = g.KernelHeight, kw = g.KernelWidth, stride = g.Stride;
        int padding = g.Padding, dilation = g.Dilation, oh = g.OutHeight, ow = g.OutWidth, padTop = g.VerticalPadding;
        bool skip = k.B is not null;
        w.OpenWrapped($"private static void GpuK{k.Index}({View} a, {View} w, {View} y, {(residual is null && !skip ? "" : $"{View} r, {View} z, ")}int batch)");
        w.Line($"const int N = {n}, K = {c * kh * kw}, P = {oh * ow}, Weight = {conv.WeightOffset}, Bias = {conv.BiasOffset};");
        w.Line($"{View} tileW = {Ilgpu}SharedMemory.Allocate<float>({Depth * s.LeftStride}); // [k][out channel], padded");
        w.Line($"{View} tileP = {Ilgpu}SharedMemory.Allocate<float>({Depth * s.Tile}); // [k][position]");
        w.Line($"int tx = {Ilgpu}Group.IdxX, ty = {Ilgpu}Group.IdxY, t = ty * {s.Threads} + tx;");
        w.Line($"int p0 = {Ilgpu}Grid.IdxX * {s.Tile}, o0 = {Ilgpu}Grid.IdxY * {s.Tile};");
        w.Line($"long x0 = (long){Ilgpu}Grid.IdxZ * {c * h * width};");
        Accumulators(w, s);
        w.Open($"for (int k0 = 0; k0 < K; k0 += {Depth})");
        w.Open($"for (int l = 0; l < {s.Tile * Depth / (s.Threads * s.Threads)}; l++)");
        w.Line($"int e = t + l * {s.Threads * s.Threads};");
        w.Line($"int wo = e / {Depth}, wk = e % {Depth}, go = o0 + wo, gk = k0 + wk;");
        w.Line($"tileW[wk * {s.LeftStride} + wo] = go < N && gk < K ? w[Weight + (long)go * K + gk] : 0f;");
        w.Line($"int pk = e / {s.Tile}, pp = e % {s.Tile}, gp = p0 + pp, gk2 = k0 + pk;");
        w.Line("float value = 0f;");
        w.Open("if (gp < P && gk2 < K)");
        w.Line($"int ci = gk2 / {kh * kw}, tap = gk2 % {kh * kw}, iy = gp / {ow} * {g.RowStride} - {padTop} + tap / {kw} * {dilation}, ix = gp % {ow} * {stride} - {padding} + tap % {kw} * {dilation};");
        w.Line($"if (iy >= 0 && iy < {h} && ix >= 0 && ix < {width}) value = a[x0 + ((long)ci * {h} + iy) * {width} + ix];");
        w.Close();
        w.Line($"tileP[pk * {s.Tile} + pp] = value;");
        w.Close();
        MultiplyTiles(w, s, "tileW", "tileP");
        w.Close();
        w.Line($"long y0 = (long){Ilgpu}Grid.IdxZ * N * P;");
        for (int i = 0; i < s.PerThread; i++)
        for (int j = 0; j < s.PerThread; j++)
        {
            string row = $"o0 + ty + {i * s.Threads}", col = $"p0 + tx + {j * s.Threads}";
            string at = $"y0 + (long)({row}) * P + {col}", value = $"c{i}_{j} + w[Bias + {row}]";
            // A skip connection in the store (the CPU plan's): (conv + bias) + r, then the epilogue, into z (the output).
            w.Line($"if ({row} < N && {col} < P) {(skip ? $"{{ long at = {at}; z[at] = {Chain(k, $"{value} + r[at]")}; }}" : Store(k, residual, at, value))}");
        }
        w.Close();
    }
}
