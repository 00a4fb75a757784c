// The GPU emitter's decoder: a session class over the device's key/value cache (ModelCompiler.Gpu.GpuDecoderSession),
// and the kernels only decoders have — rotary embeddings, learned positions, attention over the cache, a Linear's
// matrix-vector kernel for decode steps and the int8 rounding of int4 layers' input rows.
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    private const int P = PanelLayout.PanelWidth, GemvThreads = 64, CacheChunk = 256;

    /// <summary>Whether a Linear reads its input rows rounded to int8 per block of 32 (from the scratch): a decoder's int4 layers (Kernels.Int4Activations).</summary>
    private static bool ReadsRoundedRows(KernelPlan k) => k.Op is LinearOp { Weights: LinearWeights.Int4Packed };

    /// <summary>The int4 Linear before kernel <paramref name="index"/> that rounded the rows it reads (PlanGpu decided it shares them).</summary>
    private static int PreviousRounding(ModelPlan plan, int index)
    {
        int i = index - 1;
        while (!plan.GpuPlan!.Kernels[i].RoundsRows) i--; // only int4 Linear layers round rows
        return i;
    }

    /// <summary>
    /// <c>CreateGpuSession</c> and the <c>GpuSession</c> class of a decoder: the same session API as <c>CreateSession</c>
    /// (<see cref="ModelEmitter"/>'s), with the cache and every value on the device; its <c>RunKernels</c> launches the
    /// plan's kernels for a chunk of tokens at a position.
    /// </summary>
    private static void WriteSessionClass(SourceWriter w, ModelPlan plan)
    {
        GpuPlan gpu = plan.GpuPlan!;
        int limit = plan.PositionLimit;
        w.Line("/// <summary>");
        w.Line("/// Starts a sequence on a GPU (or any ILGPU accelerator): compiles the kernels, uploads the weights and allocates the");
        w.Line("/// key/value cache of <paramref name=\"maxTokens\"/> positions (float32) and every buffer once. The session is the CPU's");
        w.Line("/// <c>DecoderSession</c> — <c>Prefill</c>, <c>Decode</c>, <c>Generate</c>, <c>Perplexity</c> — running on the device; dispose it to");
        w.Line("/// free the device memory. Adapters cannot be switched on it (merge one at build time).");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"accelerator\">The ILGPU accelerator to run on (CUDA, OpenCL, or the CPU accelerator for tests).</param>");
        w.Line("/// <param name=\"maxTokens\">Positions the cache holds: prompt and generated tokens together.</param>");
        w.Line(limit > 0
            ? "/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"maxTokens\"/> is not positive, or is above <see cref=\"MaxPositions\"/>.</exception>"
            : "/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"maxTokens\"/> is not positive.</exception>");
        w.Wrapped($"public static global::ModelCompiler.Gpu.GpuDecoderSession CreateGpuSession({Ilgpu}Runtime.Accelerator accelerator, int maxTokens = DefaultMaxTokens) =>");
        w.Line(limit > 0
            ? "    maxTokens <= MaxPositions ? new GpuSession(accelerator, maxTokens) : throw new global::System.ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $\"The model's learned positions cover {MaxPositions} tokens.\");"
            : "    new GpuSession(accelerator, maxTokens);");
        w.Line();
        w.Line($"/// <summary>{SourceWriter.Xml(plan.ClassName)}'s session on a GPU, as <see cref=\"global::ModelCompiler.Gpu.GpuDecoderSession\"/> describes.</summary>");
        w.Open("public sealed class GpuSession : global::ModelCompiler.Gpu.GpuDecoderSession");
        WriteLauncherFields(w, plan);
        w.Line();
        w.Line("// The weights are uploaded, the cache, the rotary angles and the buffers allocated by the base; ILGPU compiles the");
        w.Line("// kernels here, when the session is created, not on the first call.");
        w.Line($"internal GpuSession({Ilgpu}Runtime.Accelerator accelerator, int maxTokens)");
        int scratch = plan.Kernels.Select(k => k.Op).OfType<LinearOp>()
            .Select(l => l.Weights == LinearWeights.Int8 ? l.K + 1 : l.Weights == LinearWeights.Int4Packed ? l.K : 0).DefaultIfEmpty(0).Max();
        string sizes = string.Join(", ", gpu.RotaryTables.Select(t => t.HeadSize.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string thetas = string.Join(", ", gpu.RotaryTables.Select(t => ModelEmitter.Float(t.Theta)));
        w.Open($"    : base(accelerator, maxTokens, OutputLength, {plan.ClassName}.VocabularySize, {plan.ChunkRows}, {plan.ArenaFloatsPerRow}, {scratch}, CompiledWeights.Buffer.Span, s_cacheWidths, new int[] {{ {sizes} }}, new float[] {{ {thetas} }})");
        WriteLauncherLoads(w, plan);
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Open($"protected override void RunKernels({View} input, {View} output, int batch, int position)");
        WriteLaunches(w, plan);
        w.Close();
        w.Line();
        w.Line("// A value of the CPU plan at (per-row offset × rows): here, per-row offset × ChunkRows, plus a place inside each row.");
        w.Line($"private {View} At(int floatsPerRow, int inRow) => Arena.SubView((long)floatsPerRow * ChunkRows + inRow);");
        w.Close();
        w.Line();
    }

    /// <summary>
    /// Rotary embeddings (Kernels.Rotary): one thread per (row, head, pair), the pair's cosine and sine read from the
    /// session's table at the row's position (Rotary.Angles: the CPU's values, computed once), in place allowed.
    /// </summary>
    private static void WriteRotary(SourceWriter w, KernelPlan k)
    {
        var r = (RotaryOp)k.Op;
        int half = r.HeadSize / 2;
        w.OpenWrapped($"private static void GpuK{k.Index}({Ilgpu}Index1D index, {View} a, {View} angles, {View} y, int position)");
        w.Line($"const int Width = {r.Width}, E = {r.HeadSize}, Half = {half}, Pairs = {r.Width / 2};");
        w.Line("long t = index.X, row = t / Pairs; int pair = (int)(t % Pairs), i = pair % Half;");
        w.Line("long o = row * Width + (long)(pair / Half) * E + i, at = ((position + row) * Half + i) * 2;");
        w.Line("float cos = angles[at], sin = angles[at + 1], x0 = a[o], x1 = a[o + Half];");
        w.Line("y[o] = x0 * cos - x1 * sin;");
        w.Line("y[o + Half] = x1 * cos + x0 * sin;");
        w.Close();
    }

    /// <summary>Learned positions (Kernels.PositionEmbedding): one thread per value, the table's row at the row's position added.</summary>
    private static void WritePositionEmbedding(SourceWriter w, KernelPlan k)
    {
        var p = (PositionEmbeddingOp)k.Op;
        w.OpenWrapped($"private static void GpuK{k.Index}({Ilgpu}Index1D index, {View} a, {View} w, {View} y, int position)");
        w.Line($"const int Width = {p.Width}, Table = {p.TableOffset};");
        w.Line("long t = index.X, row = t / Width;");
        w.Line("y[t] = a[t] + w[Table + (position + row) * Width + t % Width];");
        w.Close();
    }

    /// <summary>
    /// Causal grouped-query attention over the session's cache (Kernels.CachedAttention), in two kernels. The first stores
    /// the rows' keys and values at their positions (one thread per value; the cache is <c>[keys, values][kvHead][position][e]</c>
    /// as on the CPU). The second is a group of 64 threads per (row, query head), after flash-decoding's form: the query in
    /// shared memory, the keys <c>0…position + row</c> in chunks of 256 scores in shared memory (each thread scores every
    /// 64th key), each chunk folded into a running softmax (maximum, sum and the accumulators rescaled by exp(m_old − m_new)),
    /// each thread summing the weighted values of its output columns (a warp reads a value row's consecutive columns), so
    /// any number of positions fits.
    /// </summary>
    private static void WriteCachedAttention(SourceWriter w, KernelPlan k)
    {
        var op = (CachedAttentionOp)k.Op;
        int e = op.HeadSize, heads = op.Heads, kvHeads = op.KvHeads, columns = (e + AttentionThreads - 1) / AttentionThreads;
        w.OpenWrapped($"private static void GpuK{k.Index}Store({Ilgpu}Index1D index, {View} k, {View} v, {View} cache, int position, int maxTokens)");
        w.Line($"const int KvWidth = {op.KvWidth}, KvHeads = {kvHeads}, E = {e};");
        w.Line("long t = index.X, row = t / (2 * KvWidth); int rest = (int)(t % (2 * KvWidth)), values = rest / KvWidth, c = rest % KvWidth;");
        w.Line("cache[(((long)values * KvHeads + c / E) * maxTokens + position + row) * E + c % E] = values == 0 ? k[row * KvWidth + c] : v[row * KvWidth + c];");
        w.Close();
        w.Line();
        w.OpenWrapped($"private static void GpuK{k.Index}({View} q, {View} cache, {View} y, int position, int maxTokens)");
        w.Line($"const int T = {AttentionThreads}, Chunk = {CacheChunk}, Heads = {heads}, KvHeads = {kvHeads}, Group = {heads / kvHeads}, E = {e};");
        w.Line($"{View} scores = {Ilgpu}SharedMemory.Allocate<float>(Chunk);");
        w.Line($"{View} part = {Ilgpu}SharedMemory.Allocate<float>(T);");
        w.Line($"{View} query = {Ilgpu}SharedMemory.Allocate<float>(E);");
        w.Line($"int tid = {Ilgpu}Group.IdxX, h = {Ilgpu}Grid.IdxX % Heads;");
        w.Line($"long row = {Ilgpu}Grid.IdxX / Heads, qo = row * (Heads * E) + (long)h * E;");
        w.Line("long ko = (long)(h / Group) * maxTokens * E, vo = (long)KvHeads * maxTokens * E + ko; // this head's keys and values");
        w.Line("for (int d = tid; d < E; d += T) query[d] = q[qo + d];");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Line("int last = position + (int)row + 1; // keys 0 … position + row");
        w.Line("float scale = 1f / global::System.MathF.Sqrt(E), m = float.NegativeInfinity, l = 0f;");
        Scalars(w, "acc", columns, _ => "0f");
        w.Open("for (int j0 = 0; j0 < last; j0 += Chunk)");
        w.Line("int count = global::System.Math.Min(Chunk, last - j0);");
        w.Line("float chunkMax = float.NegativeInfinity;");
        w.Open("for (int j = tid; j < count; j += T)");
        w.Line("long kr = ko + (long)(j0 + j) * E;");
        w.Line("float score = 0f;");
        w.Line("for (int d = 0; d < E; d++) score += query[d] * cache[kr + d];");
        w.Line("score *= scale;");
        w.Line("scores[j] = score;");
        w.Line("chunkMax = global::System.MathF.Max(chunkMax, score);");
        w.Close();
        w.Line("part[tid] = chunkMax;");
        Reduce(w, "global::System.MathF.Max(part[tid], part[tid + half])");
        w.Line("float next = global::System.MathF.Max(m, part[0]), rescale = GpuExp(m - next); // 0 while m is −∞");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Line("float sum = 0f;");
        w.Line("for (int j = tid; j < count; j += T) { float p = GpuExp(scores[j] - next); scores[j] = p; sum += p; }");
        w.Line("part[tid] = sum;");
        Reduce(w, "part[tid] + part[tid + half]");
        w.Line("l = l * rescale + part[0];");
        Statements(w, Enumerable.Range(0, columns).Select(c => $"acc{c} *= rescale;"));
        w.Open("for (int j = 0; j < count; j++)");
        w.Line("float p = scores[j];");
        w.Line("long vr = vo + (long)(j0 + j) * E + tid;");
        // Thread tid's output columns: tid, tid + 64, … (a guard where the head ends inside a column's span).
        string Column(int c, string at) => c == 0 ? at : $"{at} + {c * AttentionThreads}";
        string Guard(int c) => (c + 1) * AttentionThreads <= e ? "" : $"if ({Column(c, "tid")} < E) ";
        for (int c = 0; c < columns; c++) w.Line($"{Guard(c)}acc{c} += p * cache[{Column(c, "vr")}];");
        w.Close();
        w.Line("m = next;");
        w.Line($"{Ilgpu}Group.Barrier(); // every thread has read the chunk's weights before the next overwrites them");
        w.Close();
        for (int c = 0; c < columns; c++) w.Line($"{Guard(c)}y[{Column(c, "qo + tid")}] = acc{c} / l;");
        w.Close();
    }

    /// <summary>
    /// A decoder Linear's matrix-vector kernel, for decode steps (up to <see cref="GpuPlan.GemvRows"/> rows): a group of
    /// 64 threads per panel of 16 outputs, thread t summing output t % 16 over inputs t / 16, t / 16 + 4, … (the 16
    /// threads of a slice read one panel row: consecutive floats, or for int4 weights one block's 8 bytes of codes), the 4
    /// partial sums of an output met in shared memory; bias, epilogue and a folded residual Add in the store, as the GEMM.
    /// </summary>
    private static void WriteGemv(SourceWriter w, KernelPlan k, KernelPlan? residual)
    {
        var l = (LinearOp)k.Op;
        bool int4 = l.Weights == LinearWeights.Int4Packed;
        w.OpenWrapped($"private static void GpuK{k.Index}Gemv({View} a, {View} w, {View} y, {(residual is null ? "" : $"{View} r, {View} z, ")}int rows)");
        w.Line($"const int N = {l.N}, K = {l.K}, Weight = {l.WeightOffset}, Bias = {l.BiasOffset}{(int4 ? $", PanelFloats = {Int4PanelLayout.PanelFloats(l.K)}" : "")}, T = {GemvThreads};");
        if (int4) w.Line("// Int4 weights as the CPU keeps them (Int4PanelLayout), dequantized where they are read; a holds the rounded rows.");
        w.Line($"{View} part = {Ilgpu}SharedMemory.Allocate<float>(T);");
        w.Line($"int t = {Ilgpu}Group.IdxX, slice = t >> 4, n = {Ilgpu}Grid.IdxX * 16 + (t & 15);");
        w.Open("for (int row = 0; row < rows; row++)");
        w.Line("float sum = 0f;");
        string weight = int4 ? "GpuInt4Panel(w, Weight, PanelFloats, n, i)" : "w[Weight + ((long)(n >> 4) * K + i) * 16 + (n & 15)]";
        w.Line($"if (n < N) for (int i = slice; i < K; i += T / 16) sum += a[(long)row * K + i] * {weight};");
        w.Line("part[t] = sum;");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Open("for (int half = T / 2; half >= 16; half /= 2)");
        w.Line("if (t < half) part[t] += part[t + half];");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Close();
        w.Line($"if (t < 16 && n < N) {Store(k, residual, "(long)row * N + n", "part[t] + w[Bias + n]")}");
        w.Line($"{Ilgpu}Group.Barrier(); // the partial sums are read before the next row's overwrite them");
        w.Close();
        w.Close();
    }

    /// <summary>
    /// An int4 Linear's input rows rounded as the CPU rounds them (Kernels.Int4Activations, ggml's Q8_0): one thread per
    /// (row, block of 32), scale max|x| / 127 (0 for a block of zeros or one holding NaN or ±∞), each value replaced by
    /// round_half_even(x · 127 / max|x|) clamped to ±127, times the scale, into the scratch the GEMM and GEMV read.
    /// </summary>
    private static void WriteRoundRows(SourceWriter w, KernelPlan k)
    {
        var l = (LinearOp)k.Op;
        int blocks = (l.K + Int4Quantization.BlockSize - 1) / Int4Quantization.BlockSize;
        w.OpenWrapped($"private static void GpuK{k.Index}Round({Ilgpu}Index1D index, {View} a, {View} y)");
        w.Line($"const int K = {l.K}, Blocks = {blocks}, B = {Int4Quantization.BlockSize};");
        w.Line("long row = index.X / Blocks; int start = (int)(index.X % Blocks) * B, end = global::System.Math.Min(K, start + B);");
        w.Line("long o = row * K;");
        w.Line("float amax = 0f;");
        w.Line("bool finite = true;");
        w.Line("for (int i = start; i < end; i++) { float v = global::System.MathF.Abs(a[o + i]); finite &= v < float.PositiveInfinity; amax = global::System.MathF.Max(amax, v); }");
        w.Line("bool scaled = finite && amax > 0f; // Int8Quantization.RowScale");
        w.Line("float inverse = scaled ? 127f / amax : 0f, scale = scaled ? amax / 127f : 0f;");
        w.Line("for (int i = start; i < end; i++) y[o + i] = scaled ? global::System.MathF.Max(-127f, global::System.MathF.Min(127f, global::System.MathF.Round(a[o + i] * inverse))) * scale : 0f;");
        w.Close();
    }

    /// <summary>The int4 weight reader decoders' kernels call (written once per decoder).</summary>
    private static void WriteDecoderHelpers(SourceWriter w)
    {
        w.Line("// An int4 weight as the CPU keeps it (Kernels.Int4PanelLayout): per panel of 16 outputs and block of 32 inputs, the 16");
        w.Line("// outputs' scales, then 8 bytes per input, output j's code in byte j % 8 (the low nibble for j < 8, the high one after),");
        w.Line("// less 8, times its scale.");
        w.Open("private static float GpuInt4Panel(global::ILGPU.ArrayView<float> w, long weights, long panelFloats, int n, int i)");
        w.Line($"long block = weights + (long)(n >> 4) * panelFloats + (long)(i >> 5) * {P + 2 * Int4Quantization.BlockSize};");
        w.Line("int j = n & 15, at = ((i & 31) << 3) + (j & 7);");
        w.Line($"uint word = global::ILGPU.Interop.FloatAsInt(w[block + {P} + (at >> 2)]);");
        w.Line("return ((int)((word >> (((at & 3) << 3) + ((j >> 3) << 2))) & 15u) - 8) * w[block + j];");
        w.Close();
    }
}
