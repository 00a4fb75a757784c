using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Emit;

/// <summary>The API of a decoder (docs/architecture.md, "Decoders"): a session over the key/value cache instead of Predict.</summary>
internal static partial class ModelEmitter
{
    private static void WriteSession(SourceWriter w, ModelPlan plan)
    {
        int limit = plan.PositionLimit;
        if (limit > 0)
        {
            w.Line("/// <summary>Tokens a sequence holds at most: the rows of the learned position embeddings.</summary>");
            w.Line($"public const int MaxPositions = {limit};");
            w.Line();
        }
        w.Line("/// <summary>Positions a session holds unless <see cref=\"CreateSession\"/> is told otherwise.</summary>");
        w.Line($"public const int DefaultMaxTokens = {(limit > 0 ? System.Math.Min(2048, limit) : 2048)};");
        w.Line();
        w.Line("/// <summary>Token ids are whole numbers below this (the rows of the embedding table).</summary>");
        w.Line($"public const int VocabularySize = {plan.TokenLimit};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Starts a sequence: a session with a key/value cache of <paramref name=\"maxTokens\"/> positions (prompt and generated");
        w.Line("/// tokens together), allocated now. <c>Prefill</c> runs a prompt, <c>Decode</c> one token, <c>Generate</c> streams tokens;");
        w.Line($"/// each gives the logits ({plan.OutputLength} per token) of what comes next.");
        w.Line("/// </summary>");
        w.Line(limit > 0
            ? "/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"maxTokens\"/> is not positive, is above <see cref=\"MaxPositions\"/>, or the cache would not fit in memory.</exception>"
            : "/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"maxTokens\"/> is not positive, or the cache would not fit in memory.</exception>");
        w.Line("/// <param name=\"maxTokens\">Positions the cache holds.</param>");
        w.Line("/// <param name=\"maxDegreeOfParallelism\">Threads that share each large matrix product: 1 (the default) stays on the calling thread; -1 uses every core (the session then starts workers: dispose it).</param>");
        w.Line("/// <param name=\"cacheFormat\">How the cache stores keys and values: float32 (exact), float16 (half the memory) or int8 (a quarter).</param>");
        w.Line(GeneratedCode);
        w.Wrapped($"public static global::ModelCompiler.DecoderSession CreateSession(int maxTokens = DefaultMaxTokens, int maxDegreeOfParallelism = 1, global::ModelCompiler.KvCacheFormat cacheFormat = global::ModelCompiler.KvCacheFormat.Float32) =>");
        w.Line(limit > 0
            ? "    maxTokens <= MaxPositions ? new CompiledSession(maxTokens, maxDegreeOfParallelism, cacheFormat) : throw new global::System.ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $\"The model's learned positions cover {MaxPositions} tokens.\");"
            : "    new CompiledSession(maxTokens, maxDegreeOfParallelism, cacheFormat);");
        w.Line();
        w.Line("// The Linear layers in order, and their input and output widths: what a LoRA adapter (SetAdapter) binds to.");
        LinearOp[] linears = plan.Kernels.Select(k => k.Op).OfType<LinearOp>().ToArray();
        w.Open("private static readonly string[] s_linearLayers =");
        foreach (LinearOp l in linears) w.Line(SourceWriter.Literal(l.Layer) + ",");
        w.Close(";");
        w.Open("private static readonly int[] s_linearShapes =");
        foreach (LinearOp l in linears) w.Line($"{l.K}, {l.N},");
        w.Close(";");
        w.Line();
        w.Line("// Key/value values per position of each CachedAttention, in order: the cache's slots, and their head sizes.");
        w.Line($"private static readonly int[] s_cacheWidths = {{ {string.Join(", ", plan.CacheWidths)} }};");
        w.Line($"private static readonly int[] s_cacheHeadSizes = {{ {string.Join(", ", plan.CacheHeadSizes)} }};");
        w.Line();
        w.Line("/// <summary>Runs the compiled kernels over a chunk of tokens at the session's positions.</summary>");
        w.Open("private sealed class CompiledSession : global::ModelCompiler.DecoderSession");
        w.Line($"public CompiledSession(int maxTokens, int maxDegreeOfParallelism, global::ModelCompiler.KvCacheFormat cacheFormat)");
        w.Line($"    : base(maxTokens, OutputLength, {plan.ClassName}.VocabularySize, ChunkRows, s_cacheWidths, lastRowAlone: {(DecoderTail(plan) < plan.Kernels.Count ? "true" : "false")}, maxDegreeOfParallelism, s_linearLayers, s_linearShapes, cacheFormat, s_cacheHeadSizes)");
        w.Line("{");
        w.Line("}");
        w.Line();
        w.Wrapped($"protected override void Run(global::System.ReadOnlySpan<float> ids, global::System.Span<float> logits, int rows, {K}KvCache cache, int position, bool lastRowOnly, {K}KernelWorkers? workers) =>");
        w.Line($"    RunRows(ids, logits, rows, {Weights(plan)}, cache, position, lastRowOnly, workers, AdapterLayers);");
        w.Close();
        w.Line();
    }

    /// <summary>
    /// The first kernel after a decoder's last kernel that reads positions (CachedAttention, Rotary, AddPositions): from there on every kernel works on each
    /// token's row alone (a decoder's samples are its tokens), so a prefill that wants only the last token's logits runs
    /// them on that row (lm_head was 28 % of a 125 M model's 128-token prefill).
    /// </summary>
    private static int DecoderTail(ModelPlan plan)
    {
        int last = -1;
        foreach (KernelPlan k in plan.Kernels) if (k.Kind is KernelKind.CachedAttention or KernelKind.Rotary or KernelKind.PositionEmbedding) last = k.Index;
        // A kernel after it that reads the token ids themselves would need them shifted too: no tail then (never in practice).
        return plan.Kernels.Skip(last + 1).Any(k => k.A.Buffer == BufferKind.Input || k.B?.Buffer == BufferKind.Input || k.C?.Buffer == BufferKind.Input)
            ? plan.Kernels.Count : last + 1;
    }

    /// <summary>
    /// A decoder's Linear, with the hook a LoRA adapter switched on the session runs through (<c>lora[slot]</c>: the
    /// layer's place among the model's Linear layers): <c>s · B (A x)</c> added to the product before the activation fused
    /// into it, which then runs on its own.
    /// </summary>
    private static string AdaptableLinearCall(KernelPlan k, LinearOp l, string a, string rows, string output, string scratch)
    {
        int slot = l.Slot;
        string plain = LinearCall(k with { Epilogue = EquatableArray<EpilogueStep>.Empty }, l, a, rows, output, scratch);
        string adapted = $"lora?[{slot}]?.Add(x: ref {a}, rows: {rows}, y: ref {output});";
        if (k.Epilogue.Count == 0) return plain + "\n" + adapted;
        return $"if (lora?[{slot}] is {{ }} adapted{k.Index})\n{{\n    {plain}\n    adapted{k.Index}.Add(x: ref {a}, rows: {rows}, y: ref {output});\n"
            + $"    {K}Elementwise.Run<{OperatorName(k)}>(source: ref {output}, destination: ref {output}, rows: {rows}, width: {l.N});\n}}\n"
            + $"else {LinearCall(k, l, a, rows, output, scratch)}";
    }

    /// <summary>A tail kernel reading and writing the arena from row <c>skip</c> on (the model's output from its row 0).</summary>
    private static KernelPlan SkipRows(KernelPlan k)
    {
        static Operand? Shifted(Operand? o) => o is { Buffer: BufferKind.Arena, SampleStride: > 0 } ? o with { Shift = $"skip * {o.SampleStride}" } : o;
        return k with { A = Shifted(k.A)!, B = Shifted(k.B), Output = Shifted(k.Output)!, C = Shifted(k.C), Mask = Shifted(k.Mask) };
    }
}
