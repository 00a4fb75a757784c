// The GPU emitter's attention kernels: flash-style (key tiles in shared memory, a running softmax) for blocks of
// queries, and a group of threads per query for few queries.
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    private const int AttentionThreads = 64, AttentionKeys = GpuPlan.AttentionKeys, FlashQueries = 64, FlashKeys = 32, FlashFeatures = GpuPlan.FlashFeatures;

    /// <summary>
    /// Attention for one (sample, head, query) per group of 64 threads: the threads share the keys — each computes the
    /// scores of every 64th key (scale, mask, causal keys skipped) into shared memory — then the maximum and the sum are
    /// reduced there, and each thread sums the weighted values of its output columns. A query whose keys are all hidden
    /// gives NaN, as on the CPU and in PyTorch.
    /// </summary>
    private static void WriteGroupAttention(SourceWriter w, KernelPlan k)
    {
        AttentionGeometry g = ((AttentionOp)k.Op).Geometry;
        int heads = g.Heads, queries = g.Queries, keys = g.Keys, e = g.HeadSize, ve = g.ValueSize;
        bool causal = g.Causal;
        w.OpenWrapped($"private static void GpuK{k.Index}({View} a, {View} b, {View} c, {View} mask, {View} y)");
        w.Line($"const int T = {AttentionThreads};");
        w.Line($"{View} scores = {Ilgpu}SharedMemory.Allocate<float>({keys});");
        w.Line($"{View} part = {Ilgpu}SharedMemory.Allocate<float>(T);");
        w.Line($"int tid = {Ilgpu}Group.IdxX, group = {Ilgpu}Grid.IdxX;");
        w.Line($"long s = group / {heads * queries}; int r = group % {heads * queries}, h = r / {queries}, q = r % {queries};");
        w.Line($"long qo = s * {g.QSample} + (long)h * {g.QHead} + (long)q * {g.QRow}, ko = s * {g.KSample} + (long)h * {g.KHead}, vo = s * {g.VSample} + (long)h * {g.VHead};");
        w.Line($"int last = {(causal ? $"global::System.Math.Min(q + 1, {keys})" : keys.ToString(System.Globalization.CultureInfo.InvariantCulture))};");
        w.Line($"float scale = 1f / global::System.MathF.Sqrt({e}f);");
        w.Line("float max = float.NegativeInfinity;");
        w.Open("for (int j = tid; j < last; j += T)");
        w.Line("float score = 0f;");
        w.Line($"for (int d = 0; d < {e}; d++) score += a[qo + d] * b[ko + (long)j * {g.KRow} + d];");
        w.Line(k.Mask is null ? "score *= scale;" : $"score = score * scale + mask[s * {g.MaskSample} + (long)q * {g.MaskRow} + j];");
        w.Line("scores[j] = score;");
        w.Line("max = global::System.MathF.Max(max, score);");
        w.Close();
        w.Line("part[tid] = max;");
        Reduce(w, "global::System.MathF.Max(part[tid], part[tid + half])");
        w.Line("max = part[0];");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Line("float sum = 0f;");
        w.Line("for (int j = tid; j < last; j += T) { float p = GpuExp(scores[j] - max); scores[j] = p; sum += p; }");
        w.Line("part[tid] = sum;");
        Reduce(w, "part[tid] + part[tid + half]");
        w.Line("float total = part[0];");
        w.Open($"for (int col = tid; col < {ve}; col += T)");
        w.Line("float acc = 0f;");
        w.Line($"for (int j = 0; j < last; j++) acc += scores[j] * c[vo + (long)j * {g.VRow} + col];");
        w.Line($"y[s * {g.OSample} + (long)h * {g.OHead} + (long)q * {g.ORow} + col] = acc / total;");
        w.Close();
        w.Close();
    }

    /// <summary>
    /// Flash-style attention (after Dao et al., FlashAttention, 2022, in its one-query-per-thread form): a group of 64
    /// threads per (sample, head, block of 64 queries), one query each, its query row and output accumulator in registers
    /// (scalar locals, which ILGPU keeps in registers, written out here because the head sizes are known). The keys and
    /// values pass through shared memory in tiles of 32, loaded once for the whole block; each thread scores its query
    /// against the tile, then folds the tile into a running softmax — the running maximum m, sum l and accumulator are
    /// rescaled by exp(m_old − m_new) once per tile — so no row of scores is ever stored and any number of keys fits.
    /// Causal blocks stop at their last query's key. A query whose keys are all hidden gives 0/0 = NaN, as on the CPU.
    /// </summary>
    private static void WriteFlashAttention(SourceWriter w, KernelPlan k)
    {
        AttentionGeometry g = ((AttentionOp)k.Op).Geometry;
        int heads = g.Heads, queries = g.Queries, keys = g.Keys, e = g.HeadSize, ve = g.ValueSize;
        bool causal = g.Causal;
        int blocks = (queries + FlashQueries - 1) / FlashQueries;
        w.OpenWrapped($"private static void GpuK{k.Index}({View} a, {View} b, {View} c, {View} mask, {View} y)");
        w.Line($"const int Q = {FlashQueries}, B = {FlashKeys}, E = {e}, V = {ve}, Queries = {queries}, Keys = {keys};");
        w.Line($"{View} keyTile = {Ilgpu}SharedMemory.Allocate<float>(B * E);      // [key][feature]");
        w.Line($"{View} valueTile = {Ilgpu}SharedMemory.Allocate<float>(B * V);    // [key][feature]");
        w.Line($"{View} scores = {Ilgpu}SharedMemory.Allocate<float>(Q * (B + 1)); // [query][key], padded against bank conflicts");
        w.Line($"int tid = {Ilgpu}Group.IdxX, group = {Ilgpu}Grid.IdxX;");
        w.Line($"long s = group / {heads * blocks}; int r = group % {heads * blocks}, h = r / {blocks}, first = r % {blocks} * Q, q = first + tid;");
        w.Line("bool active = q < Queries; // the last block's spare threads load tiles and meet barriers, and write nothing");
        w.Line("int qc = active ? q : Queries - 1;");
        w.Line($"long qo = s * {g.QSample} + (long)h * {g.QHead} + (long)qc * {g.QRow}, ko = s * {g.KSample} + (long)h * {g.KHead}, vo = s * {g.VSample} + (long)h * {g.VHead};");
        Scalars(w, "x", e, d => $"a[qo + {d}]");
        Scalars(w, "acc", ve, _ => "0f");
        w.Line("float m = float.NegativeInfinity, l = 0f;");
        w.Line($"float scale = 1f / global::System.MathF.Sqrt({e}f);");
        w.Line(causal ? "int end = global::System.Math.Min(Keys, first + Q), last = qc + 1; // the keys the block sees; this query's" : "int end = Keys;");
        w.Open("for (int j0 = 0; j0 < end; j0 += B)");
        w.Line("int count = global::System.Math.Min(B, end - j0);");
        w.Line($"for (int i = tid; i < B * E; i += Q) {{ int jj = i / E; keyTile[i] = jj < count ? b[ko + (long)(j0 + jj) * {g.KRow} + i % E] : 0f; }}");
        w.Line($"for (int i = tid; i < B * V; i += Q) {{ int jj = i / V; valueTile[i] = jj < count ? c[vo + (long)(j0 + jj) * {g.VRow} + i % V] : 0f; }}");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Line("float tileMax = float.NegativeInfinity;");
        w.Open("for (int jj = 0; jj < count; jj++)");
        w.Line("int o = jj * E;");
        Sum(w, "float score = ", Enumerable.Range(0, e).Select(d => $"x{d} * keyTile[o + {d}]"));
        w.Line(k.Mask is null ? "score *= scale;" : $"score = score * scale + mask[s * {g.MaskSample} + (long)qc * {g.MaskRow} + j0 + jj];");
        if (causal) w.Line("if (j0 + jj >= last) score = float.NegativeInfinity;");
        w.Line("scores[tid * (B + 1) + jj] = score;");
        w.Line("tileMax = global::System.MathF.Max(tileMax, score);");
        w.Close();
        w.Line("float next = global::System.MathF.Max(m, tileMax);");
        w.Open("if (next > float.NegativeInfinity) // else every key so far is hidden: nothing to add yet");
        w.Line("float rescale = GpuExp(m - next); // 0 while m is −∞");
        w.Line("l *= rescale;");
        Statements(w, Enumerable.Range(0, ve).Select(j => $"acc{j} *= rescale;"));
        w.Open("for (int jj = 0; jj < count; jj++)");
        w.Line("float p = GpuExp(scores[tid * (B + 1) + jj] - next);");
        w.Line("l += p;");
        w.Line("int o = jj * V;");
        Statements(w, Enumerable.Range(0, ve).Select(j => $"acc{j} += p * valueTile[o + {j}];"));
        w.Close();
        w.Line("m = next;");
        w.Close();
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Close();
        w.Line("if (!active) return;");
        w.Line($"long yo = s * {g.OSample} + (long)h * {g.OHead} + (long)q * {g.ORow};");
        Statements(w, Enumerable.Range(0, ve).Select(j => $"y[yo + {j}] = acc{j} / l;"));
        w.Close();
    }

    /// <summary>Declares scalar locals <c>name0 … name(count−1)</c>, eight to a line.</summary>
    private static void Scalars(SourceWriter w, string name, int count, System.Func<int, string> value)
    {
        for (int i = 0; i < count; i += 8)
            w.Line("float " + string.Join(", ", Enumerable.Range(i, System.Math.Min(8, count - i)).Select(j => $"{name}{j} = {value(j)}")) + ";");
    }

    /// <summary>Statements, eight to a line.</summary>
    private static void Statements(SourceWriter w, IEnumerable<string> statements)
    {
        string[] all = statements.ToArray();
        for (int i = 0; i < all.Length; i += 8) w.Line(string.Join(" ", all.Skip(i).Take(8)));
    }

    /// <summary>A sum of terms, eight to a line.</summary>
    private static void Sum(SourceWriter w, string head, IEnumerable<string> terms)
    {
        string[] all = terms.ToArray();
        for (int i = 0; i < all.Length; i += 8)
            w.Line((i == 0 ? head : "    + ") + string.Join(" + ", all.Skip(i).Take(8)) + (i + 8 >= all.Length ? ";" : ""));
    }
}
