using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Emit;

/// <summary>
/// The API of a model with several inputs or outputs (an ONNX graph's, in the file's order): a length and shape constant
/// for each, named after it, and one <c>Predict</c> that takes a span per input and per output, then the batch.
/// </summary>
internal static partial class ModelEmitter
{
    /// <summary>The C# names of a model's inputs and outputs: member prefixes (<c>StateLength</c>) and parameter names (<c>state</c>).</summary>
    internal sealed class ValueNames
    {
        private ValueNames(string[] inputs, string[] outputs)
        {
            Inputs = inputs;
            Outputs = outputs;
            InputParameters = inputs.Select(Parameter).ToArray();
            OutputParameters = outputs.Select(Parameter).ToArray();
        }

        public string[] Inputs { get; }
        public string[] Outputs { get; }
        public string[] InputParameters { get; }
        public string[] OutputParameters { get; }

        /// <summary>
        /// PascalCase identifiers from the names (any text from the file: letters and digits kept, the rest separates words),
        /// unique among themselves and apart from the class's other members; an empty or clashing one gets a number.
        /// </summary>
        public static ValueNames Of(ModelPlan plan)
        {
            var taken = new HashSet<string>(System.StringComparer.Ordinal)
            {
                "Predict", "ArenaBytes", "FlopsPerSample", "ChunkRows", "ArenaFloats", "ParallelFlops", "InputNames", "OutputNames",
                "RunRows", "CompiledWeights", "Batch", "Rows", "Start", "Weights",
            };
            string Unique(string? name, string fallback)
            {
                string id = Identifier(name ?? "");
                if (id.Length == 0) id = fallback;
                string unique = id;
                for (int n = 2; taken.Contains(unique) || taken.Contains(unique + "Length") || taken.Contains(unique + "Shape"); n++)
                    unique = id + n.ToString(CultureInfo.InvariantCulture);
                taken.Add(unique);
                taken.Add(unique + "Length");
                taken.Add(unique + "Shape");
                return unique;
            }
            string[] inputs = plan.Inputs.Select((v, i) => Unique(v.Name, "Input" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
            string[] outputs = plan.Outputs.Select((v, o) => Unique(v.Name, "Output" + o.ToString(CultureInfo.InvariantCulture))).ToArray();
            return new ValueNames(inputs, outputs);
        }

        private static string Identifier(string name)
        {
            var sb = new StringBuilder();
            bool upper = true;
            foreach (char c in name)
            {
                if (c < 128 && char.IsLetterOrDigit(c))
                {
                    if (sb.Length == 0 && char.IsDigit(c)) sb.Append('V');
                    sb.Append(upper ? char.ToUpperInvariant(c) : c);
                    upper = false;
                }
                else upper = true;
                if (sb.Length >= 64) break;
            }
            return sb.ToString();
        }

        /// <summary>The parameter for a member prefix: camelCase, escaped with @ where it is a C# keyword.</summary>
        private static string Parameter(string id)
        {
            string camel = char.ToLowerInvariant(id[0]) + id.Substring(1);
            return SyntaxFacts.GetKeywordKind(camel) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(camel) != SyntaxKind.None ? "@" + camel : camel;
        }
    }

    /// <summary>What one element of a value is, for docs: "floats", or the C# type the caller passes ("long values").</summary>
    private static string Elements(PlanValue value) =>
        value.Type == ElementType.Float32 ? "floats" : $"<c>{SourceWriter.Xml(value.Type.CSharp().Replace("global::System.", ""))}</c> values";

    private static void WriteConstants(SourceWriter w, ModelPlan plan, ValueNames names)
    {
        void Value(PlanValue value, string id, string kind)
        {
            string what = value.Name is null ? "" : $"<c>{SourceWriter.Xml(value.Name)}</c>, ";
            string elements = Elements(value);
            w.Line($"/// <summary>{char.ToUpperInvariant(elements[0])}{elements.Substring(1)} in one sample of {kind} {what}shape {Shape(value.Shape)}.</summary>");
            w.Line($"public const int {id}Length = {value.Length};");
            w.Line();
            w.Line($"/// <summary>The shape of one sample of {kind} {what.TrimEnd(',', ' ')} (no batch dimension).</summary>");
            w.Line($"public static global::System.ReadOnlySpan<int> {id}Shape => new int[] {{ {string.Join(", ", value.Shape)} }};");
            w.Line();
        }
        for (int i = 0; i < plan.Inputs.Count; i++) Value(plan.Inputs[i], names.Inputs[i], "input");
        for (int o = 0; o < plan.Outputs.Count; o++) Value(plan.Outputs[o], names.Outputs[o], "output");
        // ONNX Runtime users know the model by these names.
        w.Line("/// <summary>The ONNX graph's inputs, in the order <c>Predict</c> takes their spans.</summary>");
        w.Wrapped($"public static global::System.Collections.Generic.IReadOnlyList<string> InputNames {{ get; }} = new string[] {{ {string.Join(", ", plan.Inputs.Select(v => Literal(v.Name ?? "")))} }};");
        w.Line();
        w.Line("/// <summary>The ONNX graph's outputs, in the order <c>Predict</c> takes their spans.</summary>");
        w.Wrapped($"public static global::System.Collections.Generic.IReadOnlyList<string> OutputNames {{ get; }} = new string[] {{ {string.Join(", ", plan.Outputs.Select(v => Literal(v.Name ?? "")))} }};");
        w.Line();
        w.Line("/// <summary>Bytes of scratch memory each thread that runs the model holds (allocated on its first call): intermediate values for a chunk of rows, then the kernels' scratch.</summary>");
        w.Line($"public const long ArenaBytes = {plan.ArenaFloats * 4L}L;");
        w.Line();
        w.Line("/// <summary>Floating-point operations the compiled model performs per sample.</summary>");
        w.Line($"public const long FlopsPerSample = {plan.FlopsPerSample}L;");
        w.Line();
        w.Line("// Rows per chunk: the arena holds every live intermediate for this many rows.");
        w.Line($"private const int ChunkRows = {plan.ChunkRows};");
        w.Line($"private const int ArenaFloats = {plan.ArenaFloats};");
        w.Line();
        if (plan.HasTypedValues)
        {
            w.Line("// The typed inputs and outputs of a chunk, as the float32 values the kernels compute on (ElementConversion at the edges).");
            w.Line($"private const int EdgeFloats = {EdgeOffsets(plan).Total};");
            w.Line();
            w.Line("[global::System.ThreadStatic]");
            w.Line("private static float[]? t_edges;");
            w.Line();
        }
    }

    /// <summary>
    /// Where each typed input and output of a chunk sits in the edge buffer (−1 for a float32 one, which the kernels read
    /// or write in place), inputs then outputs; and the buffer's length.
    /// </summary>
    private static (int[] Inputs, int[] Outputs, int Total) EdgeOffsets(ModelPlan plan)
    {
        int total = 0;
        int Place(PlanValue v)
        {
            if (v.Type == ElementType.Float32) return -1;
            int at = total;
            total = checked(total + checked(plan.ChunkRows * v.Length));
            return at;
        }
        int[] inputs = plan.Inputs.Select(Place).ToArray();
        int[] outputs = plan.Outputs.Select(Place).ToArray();
        return (inputs, outputs, total);
    }

    private static void WritePredict(SourceWriter w, ModelPlan plan, ValueNames names)
    {
        w.Line("/// <summary>Runs the compiled model on a batch of samples (on the calling thread, chunk after chunk).</summary>");
        for (int i = 0; i < plan.Inputs.Count; i++)
            w.Line($"/// <param name=\"{names.InputParameters[i].TrimStart('@')}\">Exactly <paramref name=\"batch\"/> × <see cref=\"{names.Inputs[i]}Length\"/> {Elements(plan.Inputs[i])}: "
                + $"<c>{SourceWriter.Xml(plan.Inputs[i].Name ?? "")}</c>, sample after sample.</param>");
        for (int o = 0; o < plan.Outputs.Count; o++)
            w.Line($"/// <param name=\"{names.OutputParameters[o].TrimStart('@')}\">Exactly <paramref name=\"batch\"/> × <see cref=\"{names.Outputs[o]}Length\"/> {Elements(plan.Outputs[o])}: "
                + $"<c>{SourceWriter.Xml(plan.Outputs[o].Name ?? "")}</c>; must not overlap another span.</param>");
        w.Line("/// <param name=\"batch\">Number of samples, at least 1.</param>");
        w.Line("/// <remarks>Thread-safe; allocates nothing after a thread's first call.</remarks>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length, an output overlaps another span, or <paramref name=\"batch\"/> is not positive; nothing is written.</exception>");
        w.Line(GeneratedCode);
        w.Wrapped("public static void Predict(" + string.Join(", ", names.InputParameters.Select((p, i) => $"global::System.ReadOnlySpan<{plan.Inputs[i].Type.CSharp()}> " + p)
            .Concat(names.OutputParameters.Select((p, o) => $"global::System.Span<{plan.Outputs[o].Type.CSharp()}> " + p))) + ", int batch = 1)");
        w.Line("{");
        w.Indent();
        w.Line($"{K}PredictArguments.ValidateBatch(batch);");
        // Typed spans by the generic overloads, named explicitly (a Span<T> argument does not infer ReadOnlySpan<T>'s T before C# 14).
        string Generic(PlanValue v) => v.Type == ElementType.Float32 ? "" : $"<{v.Type.CSharp()}>";
        for (int i = 0; i < plan.Inputs.Count; i++)
            w.Line($"{K}PredictArguments.ValidateLength{Generic(plan.Inputs[i])}({names.InputParameters[i]}, batch, {names.Inputs[i]}Length, nameof({names.InputParameters[i]}));");
        for (int o = 0; o < plan.Outputs.Count; o++)
            w.Line($"{K}PredictArguments.ValidateLength{Generic(plan.Outputs[o])}({names.OutputParameters[o]}, batch, {names.Outputs[o]}Length, nameof({names.OutputParameters[o]}));");
        // Each output apart from every input and from the outputs after it (each pair once).
        for (int o = 0; o < plan.Outputs.Count; o++)
        {
            string output = names.OutputParameters[o];
            var others = plan.Inputs.Select((v, i) => (v, names.InputParameters[i])).Concat(plan.Outputs.Select((v, k) => (v, names.OutputParameters[k])).Skip(o + 1));
            foreach ((PlanValue value, string other) in others)
                w.Line(value.Type == ElementType.Float32 && plan.Outputs[o].Type == ElementType.Float32
                    ? $"{K}PredictArguments.ValidateApart({output}, {other}, nameof({output}));"
                    : $"{K}PredictArguments.ValidateApart<{plan.Outputs[o].Type.CSharp()}, {value.Type.CSharp()}>({output}, {other}, nameof({output}));");
        }
        WriteIdChecks(w, plan, names);
        w.Line($"{K}AlignedBuffer? weights = {Weights(plan)}; // one set for the whole call, whatever LoadWeights does meanwhile");
        (int[] inputEdges, int[] outputEdges, _) = EdgeOffsets(plan);
        if (plan.HasTypedValues) w.Line("float[] edges = t_edges ??= new float[EdgeFloats];");
        w.Open("for (int start = 0; start < batch; start += ChunkRows)");
        w.Line("int rows = global::System.Math.Min(ChunkRows, batch - start);");
        string Chunk(string parameter, string id) => $"{parameter}.Slice(start * {id}Length, rows * {id}Length)";
        // Typed inputs become floats in the edge buffer; typed outputs are written there, then converted.
        var inputs = new List<string>();
        for (int i = 0; i < plan.Inputs.Count; i++)
        {
            if (inputEdges[i] < 0) { inputs.Add(Chunk(names.InputParameters[i], names.Inputs[i])); continue; }
            string local = "in" + i.ToString(CultureInfo.InvariantCulture);
            w.Line($"global::System.Span<float> {local} = new global::System.Span<float>(edges, {inputEdges[i]}, rows * {names.Inputs[i]}Length);");
            w.Line($"{K}ElementConversion.ToSingle<{plan.Inputs[i].Type.CSharp()}>({Chunk(names.InputParameters[i], names.Inputs[i])}, {local});");
            inputs.Add(local);
        }
        var outputs = new List<string>();
        for (int o = 0; o < plan.Outputs.Count; o++)
        {
            if (outputEdges[o] < 0) { outputs.Add(Chunk(names.OutputParameters[o], names.Outputs[o])); continue; }
            string local = "out" + o.ToString(CultureInfo.InvariantCulture);
            w.Line($"global::System.Span<float> {local} = new global::System.Span<float>(edges, {outputEdges[o]}, rows * {names.Outputs[o]}Length);");
            outputs.Add(local);
        }
        // On the calling thread (workers: null): the typed values' edge buffer is not pinned.
        w.Wrapped("RunRows(" + string.Join(", ", inputs.Concat(outputs)) + ", rows, weights, workers: null);");
        for (int o = 0; o < plan.Outputs.Count; o++)
            if (outputEdges[o] >= 0)
                w.Line($"{K}ElementConversion.FromSingle<{plan.Outputs[o].Type.CSharp()}>(out{o.ToString(CultureInfo.InvariantCulture)}, {Chunk(names.OutputParameters[o], names.Outputs[o])});");
        w.Close();
        w.Close();
        w.Line();
    }
}
