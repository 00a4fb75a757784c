using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Passes;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Import;

/// <summary>What an ONNX file becomes: the ops (as a Forward method would have recorded them) and the weights, laid out as a safetensors image.</summary>
internal sealed class OnnxImport
{
    public OnnxImport(List<RecordedOp> ops, int output, string inputName, string outputName, int[] inputShape, byte[] weights)
    {
        Ops = ops; Output = output; InputName = inputName; OutputName = outputName; InputShape = inputShape; Weights = weights;
    }

    public List<RecordedOp> Ops { get; }
    public int Output { get; }
    public string InputName { get; }
    public string OutputName { get; }
    public int[] InputShape { get; }

    /// <summary>The weights the ops name, as a safetensors file image: the rest of the pipeline reads weights from one.</summary>
    public byte[] Weights { get; }

    /// <summary>The output's shape as the file declares it (null dimensions symbolic or unknown), or null when it declares none.</summary>
    public long?[]? DeclaredOutputShape { get; init; }

    /// <summary>
    /// What is wrong with the declared output shape, given the shape shape inference found for one sample; null when they
    /// agree (the first dimension is the batch; a symbolic or unknown dimension agrees with anything). onnx's checker and
    /// ONNX Runtime refuse a file whose declared shape disagrees; so does the compiler, rather than pick one.
    /// </summary>
    public string? OutputShapeError(int[] sample)
    {
        if (DeclaredOutputShape is null) return null;
        string declared = "[" + string.Join(", ", DeclaredOutputShape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?")) + "]";
        string computed = "[N, " + string.Join(", ", sample) + "]";
        if (DeclaredOutputShape.Length != sample.Length + 1
            || DeclaredOutputShape.Skip(1).Where((d, i) => d is not null && d.Value != sample[i]).Any())
            return $"output '{OutputName}' is declared {declared}, but the graph computes {computed}";
        return null;
    }
}

/// <summary>
/// Lowers an ONNX graph onto the compiler's IR with ONNX semantics: each node becomes the op a <c>Forward</c> method
/// would have recorded (<c>Gemm</c> and <c>MatMul</c> by a weight become <c>Linear</c>, so they get the packed GEMM and
/// fused epilogues), and the initializers become a safetensors image under the names those ops read (transposed or
/// negated at build time where ONNX stores them otherwise). The leading dimension of the input is the batch. Anything
/// outside the supported set is MC0013 naming the node, its operator, domain and opset. Pure and deterministic: the
/// weights emitter calls it again to lay the same image out.
/// </summary>
internal static partial class OnnxImporter
{
    /// <summary>The most nodes a graph may have: the import's work (and the generated code) stays bounded.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>The operators lowered, for docs/onnx.md (generated from this list by a test).</summary>
    public static readonly string[] Supported =
    {
        "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "DequantizeLinear", "Div",
        "Dropout", "Equal", "Erf", "Exp", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "Greater", "HardSigmoid", "HardSwish", "Identity", "LayerNormalization",
        "LeakyRelu", "Less", "LogSoftmax", "MatMul", "MatMulInteger", "MaxPool", "Mul", "Neg", "Pad", "Pow", "QuantizeLinear", "Range", "Reciprocal", "ReduceMean", "ReduceSum", "Relu", "Reshape",
        "Shape", "Sigmoid", "Size", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where",
    };

    /// <summary>
    /// Reads external data files beside <paramref name="modelPath"/>. A location must be relative and stay inside the
    /// model's folder (as onnx's checker and ONNX Runtime require: no absolute path, no way out through <c>..</c>).
    /// With <paramref name="listed"/> (the AdditionalFiles), only a listed file is read: the incremental pipeline keys a
    /// model on its files, so an unlisted file would go stale unnoticed. The package's targets list <c>*.onnx.data</c>
    /// and <c>*.onnx_data</c>. Each file read adds its hash to <paramref name="hashes"/>, which key the plan with the
    /// model's own.
    /// </summary>
    public static Func<string, byte[]> ExternalFiles(string modelPath, IReadOnlyCollection<WeightsFileRef>? listed, long maxBytes, List<string>? hashes = null) => location =>
    {
        string directory = System.IO.Path.GetFullPath(System.IO.Path.GetDirectoryName(modelPath) ?? ".");
        if (System.IO.Path.IsPathRooted(location) || location.IndexOf(':') >= 0)
            throw new UnauthorizedAccessException($"an external data location must be relative to the model's folder, not '{location}'");
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, location));
        string inside = directory.EndsWith(System.IO.Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal) ? directory : directory + System.IO.Path.DirectorySeparatorChar;
        if (!path.StartsWith(inside, StringComparison.Ordinal))
            throw new UnauthorizedAccessException($"'{location}' leads out of the model's folder; external data must sit in it or below it");
        if (listed is not null && !listed.Any(f => string.Equals(System.IO.Path.GetFullPath(f.Path), path, StringComparison.Ordinal)))
            throw new System.IO.FileNotFoundException(WeightsFileRef.IsWeightsFile(path)
                ? $"'{path}' is not among the AdditionalFiles; add it (<AdditionalFiles Include=\"…\" />)"
                : $"'{path}' is not read by the generator: name it *.onnx.data (or *.data, *.bin) and list it among the AdditionalFiles");
        byte[] bytes = WeightsFileReader.ReadAllBytes(path, maxBytes);
        hashes?.Add(WeightLayout.Hash(bytes));
        return bytes;
    };

    /// <summary>The hash of a model file and the external data files it read, in the order read: the model file's alone when it has none.</summary>
    public static string CombinedHash(string modelHash, IEnumerable<string> externalHashes) => string.Join("+", new[] { modelHash }.Concat(externalHashes));

    /// <summary>Lowers a read ONNX file; <paramref name="external"/> reads an external data file by its location (relative to the model).</summary>
    public static OnnxImport? Import(byte[] bytes, OnnxModel model, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external = null)
    {
        var importer = new Lowering(bytes, model, file, at, diagnostics, external);
        return importer.Run();
    }

    /// <summary>Reads and lowers an ONNX file; null (with diagnostics) when it cannot be compiled.</summary>
    public static OnnxImport? Import(byte[] bytes, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external = null)
    {
        OnnxModel model;
        try
        {
            model = OnnxReader.Read(bytes);
        }
        catch (OnnxFormatException e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, at, file, e.Message));
            return null;
        }
        return Import(bytes, model, file, at, diagnostics, external);
    }

    /// <summary>One import: the values seen so far (activations by op id, constants by data) and the ops recorded.</summary>
    private sealed partial class Lowering
    {
        private readonly byte[] _bytes;
        private readonly OnnxModel _model;
        private readonly LocationInfo? _at;
        private readonly string _file;
        private readonly List<DiagnosticInfo> _diagnostics;
        private readonly List<RecordedOp> _ops = new();
        private readonly Dictionary<string, int> _activations = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _ranks = new(StringComparer.Ordinal);
        private readonly Dictionary<string, OnnxConstant> _constants = new(StringComparer.Ordinal);
        private readonly List<KeyValuePair<string, OnnxConstant>> _weights = new();
        private readonly Dictionary<string, int> _parameters = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<int>> _consumers = new(StringComparer.Ordinal);
        // Activations cast to integers: token ids, which the compiled model carries as floats (for Embedding).
        private readonly Dictionary<string, int> _indices = new(StringComparer.Ordinal);
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);
        // Shapes of the ops recorded so far, inferred only when a node needs one (Shape, asymmetric padding).
        private readonly List<Node> _nodes = new();
        private ModelDeclaration? _declaration;
        private SafeTensorsHeader? _header;
        private int _headerWeights = -1;

        private readonly Func<string, byte[]>? _external;
        private readonly Dictionary<string, byte[]> _externalFiles = new(StringComparer.Ordinal);

        public Lowering(byte[] bytes, OnnxModel model, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external)
        {
            _bytes = bytes; _model = model; _file = file; _at = at; _diagnostics = diagnostics;
            if (external is not null)
                _external = location => _externalFiles.TryGetValue(location, out byte[]? read) ? read : _externalFiles[location] = external(location);
        }

        private sealed class Stop : Exception { }

        public OnnxImport? Run()
        {
            try
            {
                OnnxGraph graph = _model.Graph;
                CheckNames(graph);
                if (graph.Nodes.Count > MaxNodes)
                {
                    _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LimitExceeded, _at,
                        $"ONNX file '{_file}' has {graph.Nodes.Count:N0} nodes; the importer reads graphs of at most {MaxNodes:N0}"));
                    return null;
                }
                foreach (OnnxTensor t in graph.Initializers) _constants[t.Name] = Read(t, null);
                foreach (OnnxNode n in graph.Nodes)
                    foreach (string i in n.Inputs) _uses[i] = _uses.TryGetValue(i, out int u) ? u + 1 : 1;
                for (int i = 0; i < graph.Nodes.Count; i++)
                    foreach (string read in graph.Nodes[i].Inputs.Distinct())
                    {
                        if (!_consumers.TryGetValue(read, out List<int>? list)) _consumers[read] = list = new List<int>();
                        list.Add(i);
                    }
                foreach (OnnxValueInfo o in graph.Outputs) _uses[o.Name] = _uses.TryGetValue(o.Name, out int u) ? u + 1 : 1;

                List<OnnxValueInfo> inputs = graph.Inputs.Where(v => !_constants.ContainsKey(v.Name)).ToList();
                if (inputs.Count != 1) throw Fail($"the graph has {inputs.Count} inputs besides its initializers; a compiled model takes exactly one");
                OnnxValueInfo input = inputs[0];
                if (input.ElementType != OnnxDataType.Float) throw Fail($"input '{input.Name}' is {input.ElementType}; a compiled model takes float32");
                if (input.Shape is null || input.Shape.Count < 2)
                    throw Fail($"input '{input.Name}' needs a shape of [batch, …] with at least one more dimension");
                var sample = new int[input.Shape.Count - 1];
                for (int d = 1; d < input.Shape.Count; d++)
                {
                    long? v = input.Shape[d].Value;
                    if (v is null or <= 0 or > int.MaxValue)
                        throw Fail($"input '{input.Name}' dimension {d} is '{input.Shape[d].Parameter ?? "unknown"}': only the first (the batch) may vary");
                    sample[d - 1] = (int)v.Value;
                }
                long sampleCount = SizeMath.Product(sample);
                if (!SizeMath.Fits(sampleCount))
                    throw Fail($"input '{input.Name}' is [N, {string.Join(", ", sample)}]: {SizeMath.Format(sampleCount)} values per sample, more than the {SizeMath.Format(SizeMath.MaxElements)} one tensor can hold");
                _ops.Add(new RecordedOp(0, OpKind.Input, EquatableArray<int>.Empty, input.Name, 0f, null, _at, null, input.Name));
                _declaration = new ModelDeclaration
                {
                    ClassLocation = _at,
                    WeightsFile = _file,
                    WeightsLocation = _at,
                    WeightsStorage = WeightsStorage.Embedded,
                    InputName = input.Name,
                    InputShape = new EquatableArray<int>(sample),
                    IsOnnx = true,
                };
                _activations[input.Name] = 0;
                _ranks[input.Name] = input.Shape.Count;

                // Constant nodes first: they read nothing, and the patterns below look ahead at constants (ε, 2, √2)
                // that exporters write after the node where a pattern starts.
                var skip = new HashSet<int>();
                for (int index = 0; index < graph.Nodes.Count; index++)
                {
                    if (graph.Nodes[index].OpType != "Constant" || graph.Nodes[index].Domain is not ("" or "ai.onnx")) continue;
                    Lower(graph.Nodes, index, skip);
                    skip.Add(index);
                }
                for (int index = 0; index < graph.Nodes.Count; index++)
                {
                    if (skip.Contains(index)) continue;
                    try
                    {
                        Lower(graph.Nodes, index, skip);
                    }
                    catch (OverflowException)
                    {
                        // Sizes are computed in checked arithmetic: a shape or attribute that wraps is refused, never lowered.
                        throw Unsupported(graph.Nodes[index], "its sizes overflow (a dimension, count or attribute past what one tensor can hold)");
                    }
                }

                if (graph.Outputs.Count != 1) throw Fail($"the graph has {graph.Outputs.Count} outputs; a compiled model has exactly one");
                if (!_activations.TryGetValue(graph.Outputs[0].Name, out int output))
                    throw Fail($"output '{graph.Outputs[0].Name}' is not computed from the input");
                return new OnnxImport(_ops, output, input.Name, graph.Outputs[0].Name, sample, SafeTensorsImage())
                {
                    DeclaredOutputShape = graph.Outputs[0].Shape?.Select(d => d.Value).ToArray(),
                };
            }
            catch (Stop)
            {
                return null;
            }
        }

        /// <summary>
        /// Every value has one producer: an initializer, a graph input or one node's output (SSA, as the ONNX spec and its
        /// checker require). A file that defines a name twice is malformed (MC0003 naming it), never last-definition-wins.
        /// </summary>
        private void CheckNames(OnnxGraph graph)
        {
            var producers = new Dictionary<string, string>(StringComparer.Ordinal);
            void Define(string name, string by)
            {
                if (name.Length == 0) return; // an omitted optional output
                if (producers.TryGetValue(name, out string? first))
                    throw Fail($"'{name}' is defined twice ({first} and {by}); each value of an ONNX graph has one producer");
                producers[name] = by;
            }
            foreach (OnnxTensor t in graph.Initializers) Define(t.Name, "an initializer");
            // A graph input may repeat an initializer's name (it is then the initializer's default, IR < 4); nothing else may.
            var initializers = new HashSet<string>(graph.Initializers.Select(t => t.Name), StringComparer.Ordinal);
            foreach (OnnxValueInfo v in graph.Inputs)
                if (!initializers.Contains(v.Name)) Define(v.Name, "a graph input");
            for (int i = 0; i < graph.Nodes.Count; i++)
            {
                OnnxNode n = graph.Nodes[i];
                string by = $"node '{(n.Name.Length > 0 ? n.Name : "#" + i.ToString(CultureInfo.InvariantCulture))}' ({n.OpType})";
                foreach (string output in n.Outputs) Define(output, by);
            }
        }

        private void Lower(List<OnnxNode> nodes, int index, HashSet<int> skip)
        {
            OnnxNode node = nodes[index];
            if (node.Domain is not ("" or "ai.onnx")) throw Unsupported(node, "only the default ONNX domain is supported");
            // Layers are named as the file names its node (what FloatLayers takes), else by position.
            string name = node.Name.Length > 0 && _names.Add(node.Name) ? node.Name : "n" + index.ToString(CultureInfo.InvariantCulture);
            string Output() => node.Outputs.Count > 0 ? node.Outputs[0] : throw Unsupported(node, "it has no output");
            if (Fold(node, Output)) return;
            switch (node.OpType)
            {
                case "Identity" or "Dropout":
                    Alias(node, Input(node, 0), Output());
                    return;
                case "Constant":
                {
                    OnnxAttribute? value = node.Attributes.FirstOrDefault(a => a.Name == "value");
                    if (value?.T is null) throw Unsupported(node, "only a 'value' tensor is supported");
                    _constants[Output()] = Read(value.T, node);
                    return;
                }
                case "Relu" or "Sigmoid" or "Tanh" or "Erf" or "Sqrt" or "Exp" or "Reciprocal":
                    Activation(node, Output(), node.OpType switch
                    {
                        "Relu" => OpKind.Relu, "Sigmoid" => OpKind.Sigmoid, "Erf" => OpKind.Erf, "Sqrt" => OpKind.Sqrt, "Exp" => OpKind.Exp,
                        "Reciprocal" => OpKind.Reciprocal, _ => OpKind.Tanh,
                    }, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)));
                    return;
                case "Neg":
                    Activation(node, Output(), OpKind.MulScalar, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)), scalar: -1f);
                    return;
                case "Pow":
                {
                    // A constant exponent, as PyTorch exports x ** 2 (and the decomposed LayerNorm's variance).
                    string x = Input(node, 0);
                    OnnxConstant exponent = Const(node, Input(node, 1));
                    float? e = exponent.Count != 1 ? null : exponent.Floats is { } f ? f[0] : exponent.PlainLongs is { } l ? l[0] : null;
                    int a = Act(node, x);
                    int result = e switch
                    {
                        1f => a,
                        2f => Record(node, OpKind.Mul, new[] { a, a }),
                        3f => Record(node, OpKind.Mul, new[] { Record(node, OpKind.Mul, new[] { a, a }), a }),
                        0.5f => Record(node, OpKind.Sqrt, new[] { a }),
                        -1f => Record(node, OpKind.Reciprocal, new[] { a }),
                        -0.5f => Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Sqrt, new[] { a }) }),
                        -2f => Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Mul, new[] { a, a }) }),
                        _ => throw Unsupported(node, $"exponent {exponent.Describe()}: only a constant 1, 2, 3, 0.5, -0.5, -1 or -2 is supported"),
                    };
                    _activations[Output()] = result;
                    _ranks[Output()] = RankOf(x);
                    return;
                }
                case "Gather":
                {
                    // x[:, i] and x[:, [i, j, …]] with known indices; an embedding lookup would need integer inputs.
                    string x = Input(node, 0);
                    if (_indices.TryGetValue(Input(node, 1), out int tokenIds))
                    {
                        // An embedding: rows of a [count, d] table picked by the token ids.
                        OnnxConstant table = Const(node, x);
                        if (table.Floats is null || table.Dims.Length != 2 || IntAttribute(node, "axis", 0) != 0)
                            throw Unsupported(node, "only a float32 [count, d] table indexed along axis 0 is supported");
                        _weights.Add(new(name + ".weight", table));
                        _activations[Output()] = Record(node, OpKind.Embedding, new[] { tokenIds }, name);
                        _ranks[Output()] = RankOf(Input(node, 1)) + 1;
                        return;
                    }
                    if (!_activations.ContainsKey(x))
                        throw Unsupported(node, "looking values up by indices computed at run time is supported only for an embedding table indexed by the input cast to integers");
                    int rank = RankOf(x);
                    int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
                    OnnxConstant indices = Const(node, Input(node, 1));
                    long[] picks = indices.PlainLongs ?? throw Unsupported(node, "the indices must be integer constants");
                    if (indices.Dims.Length > 1 || picks.Length == 0) throw Unsupported(node, "only a scalar or a non-empty list of indices is supported");
                    int size = SampleShape(node, x)[axis - 1];
                    int[] at = picks.Select(i => i < 0 ? i + size : i).Select(i => i >= 0 && i < size ? (int)i : throw Unsupported(node, $"index {i} is outside an axis of {size}")).ToArray();
                    int runs = 1 + Enumerable.Range(1, at.Length - 1).Count(i => at[i] != at[i - 1] + 1);
                    if (runs > 64) throw Unsupported(node, $"{runs} separate runs of indices: at most 64 are supported (each is one copy)");
                    int a = Act(node, x), result = -1;
                    // Runs of consecutive indices become one slice each, joined.
                    for (int start = 0; start < at.Length;)
                    {
                        int end = start + 1;
                        while (end < at.Length && at[end] == at[end - 1] + 1) end++;
                        int slice = Record(node, OpKind.Slice, new[] { a }, settings: new SliceSettings(axis - 1, at[start], at[end - 1] + 1, SliceOrigin.Exact));
                        result = result < 0 ? slice : Record(node, OpKind.Concat, new[] { result, slice }, settings: new AxisSettings(axis - 1));
                        start = end;
                    }
                    if (indices.Dims.Length == 0) result = Record(node, OpKind.Squeeze, new[] { result }, settings: new AxisSettings(axis - 1));
                    _activations[Output()] = result;
                    _ranks[Output()] = indices.Dims.Length == 0 ? rank - 1 : rank;
                    return;
                }
                case "Split":
                {
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
                    int size = SampleShape(node, x)[axis - 1];
                    long[] sizes;
                    if (_model.DefaultOpset < 13) sizes = node.Attributes.FirstOrDefault(a => a.Name == "split")?.Ints.ToArray() ?? Array.Empty<long>();
                    else if (node.Inputs.Count > 1 && node.Inputs[1].Length > 0) sizes = Const(node, node.Inputs[1]).PlainLongs ?? throw Unsupported(node, "the sizes must be integer constants");
                    else sizes = Array.Empty<long>();
                    int parts = node.Outputs.Count;
                    if (sizes.Length == 0)
                    {
                        // Equal parts; opset 18's num_outputs lets the last be smaller.
                        long each = (size + parts - 1) / parts;
                        sizes = Enumerable.Range(0, parts).Select(i => Math.Max(0, Math.Min(each, size - i * each))).ToArray();
                    }
                    if (sizes.Length != parts || sizes.Any(v => v <= 0) || sizes.Sum() != size)
                        throw Unsupported(node, $"sizes [{string.Join(", ", sizes)}] do not split an axis of {size} into {parts} non-empty parts");
                    int a = Act(node, x), offset = 0;
                    for (int i = 0; i < parts; i++)
                    {
                        if (node.Outputs[i].Length > 0)
                        {
                            _activations[node.Outputs[i]] = Record(node, OpKind.Slice, new[] { a }, settings: new SliceSettings(axis - 1, offset, offset + (int)sizes[i], SliceOrigin.Exact));
                            _ranks[node.Outputs[i]] = rank;
                        }
                        offset += (int)sizes[i];
                    }
                    return;
                }
                case "Unsqueeze" or "Squeeze":
                {
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    bool unsqueeze = node.OpType == "Unsqueeze";
                    long[] raw = Axes(node, 13);
                    if (raw.Length == 0) throw Unsupported(node, "the axes must be given");
                    int outputRank = unsqueeze ? rank + raw.Length : rank;
                    int[] axes = raw.Select(a => (int)(a < 0 ? a + outputRank : a)).Distinct().OrderBy(a => a).ToArray();
                    if (axes.Length != raw.Length || axes.Any(a => a <= 0 || a >= outputRank)) throw Unsupported(node, $"axes [{string.Join(", ", raw)}]: only sample axes (not the batch) are supported");
                    int result = Act(node, x);
                    // Unsqueeze inserts at output positions in ascending order; Squeeze removes input positions from the last.
                    foreach (int a in unsqueeze ? axes : Enumerable.Reverse(axes))
                        result = Record(node, unsqueeze ? OpKind.Unsqueeze : OpKind.Squeeze, new[] { result }, settings: new AxisSettings(a - 1));
                    _activations[Output()] = result;
                    _ranks[Output()] = unsqueeze ? rank + axes.Length : rank - axes.Length;
                    return;
                }
                case "Slice":
                {
                    if (_model.DefaultOpset < 10) throw Unsupported(node, "Slice before opset 10 (bounds as attributes) is not supported");
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    long[] starts = Const(node, Input(node, 1)).PlainLongs ?? throw Unsupported(node, "starts must be integer constants");
                    long[] ends = Const(node, Input(node, 2)).PlainLongs ?? throw Unsupported(node, "ends must be integer constants");
                    long[] axes = node.Inputs.Count > 3 && node.Inputs[3].Length > 0
                        ? Const(node, node.Inputs[3]).PlainLongs ?? throw Unsupported(node, "axes must be integer constants")
                        : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                    if (node.Inputs.Count > 4 && node.Inputs[4].Length > 0 && (Const(node, node.Inputs[4]).PlainLongs ?? Array.Empty<long>()).Any(s => s != 1))
                        throw Unsupported(node, "only steps of 1 are supported");
                    if (starts.Length != ends.Length || axes.Length != starts.Length) throw Unsupported(node, "starts, ends and axes differ in length");
                    int result = Act(node, x);
                    for (int i = 0; i < axes.Length; i++)
                    {
                        int axis = SampleAxis(node, axes[i], rank);
                        // Bounds as ONNX writes them ("to the end" is INT64_MAX), clamped by shape inference (the -1 flag).
                        int Clamp(long v) => (int)Math.Max(int.MinValue / 2, Math.Min(int.MaxValue / 2, v));
                        result = Record(node, OpKind.Slice, new[] { result }, settings: new SliceSettings(axis - 1, Clamp(starts[i]), Clamp(ends[i]), SliceOrigin.Clamped));
                    }
                    _activations[Output()] = result;
                    _ranks[Output()] = rank;
                    return;
                }
                case "ReduceMean" when LayerNormPattern(nodes, index, name, skip):
                    return;
                case "Div" when GeluPattern(nodes, index, skip):
                    return;
                case "ReduceMean" or "ReduceSum":
                {
                    // A sum is the mean times the count (one rounding more, well inside the tolerance).
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    bool sum = node.OpType == "ReduceSum";
                    long[] raw = Axes(node, sum ? 13 : 18);
                    if (raw.Length != 1) throw Unsupported(node, $"only a {(sum ? "sum" : "mean")} over one axis is supported");
                    int axis = SampleAxis(node, raw[0], rank);
                    int result = Record(node, OpKind.Mean, new[] { Act(node, x) }, settings: new AxisSettings(axis - 1));
                    if (sum) result = Record(node, OpKind.MulScalar, new[] { result }, scalar: SampleShape(node, x)[axis - 1]);
                    bool keep = IntAttribute(node, "keepdims", 1) != 0;
                    if (keep) result = Record(node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(axis - 1));
                    _activations[Output()] = result;
                    _ranks[Output()] = keep ? rank : rank - 1;
                    return;
                }
                case "Pad":
                {
                    // PyTorch writes a Pad of zeros before some pools: the identity. Real padding belongs in the Conv or pool.
                    OnnxConstant pads = Const(node, Input(node, 1));
                    if (pads.PlainLongs is null || pads.PlainLongs.Any(p => p != 0)) throw Unsupported(node, "only a Pad of zeros (the identity) is supported");
                    Alias(node, Input(node, 0), Output());
                    return;
                }
                case "HardSigmoid" or "HardSwish":
                {
                    // clamp(alpha·x + beta, 0, 1), four fused steps; HardSwish is x times that with alpha 1/6, beta 1/2.
                    string x = Input(node, 0);
                    bool swish = node.OpType == "HardSwish";
                    float alpha = swish ? 1f / 6f : FloatAttribute(node, "alpha", 0.2f), beta = swish ? 0.5f : FloatAttribute(node, "beta", 0.5f);
                    int a = Act(node, x);
                    int gate = Record(node, OpKind.MulScalar, new[] { a }, scalar: alpha);
                    gate = Record(node, OpKind.AddScalar, new[] { gate }, scalar: beta);
                    gate = Record(node, OpKind.ClampMin, new[] { gate }, scalar: 0f);
                    gate = Record(node, OpKind.ClampMax, new[] { gate }, scalar: 1f);
                    _activations[Output()] = swish ? Record(node, OpKind.Mul, new[] { a, gate }) : gate;
                    _ranks[Output()] = RankOf(x);
                    return;
                }
                case "LeakyRelu":
                    Activation(node, Output(), OpKind.LeakyRelu, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)), scalar: FloatAttribute(node, "alpha", 0.01f));
                    return;
                case "Clip":
                {
                    // Opset 11 and later take min and max as optional constant inputs; earlier opsets as attributes.
                    string x = Input(node, 0);
                    float Bound(int input, string attribute, float fallback)
                    {
                        if (_model.DefaultOpset < 11) return FloatAttribute(node, attribute, fallback);
                        if (input >= node.Inputs.Count || node.Inputs[input].Length == 0) return fallback;
                        OnnxConstant c = Const(node, node.Inputs[input]);
                        return c.Floats is { Length: 1 } f ? f[0] : throw Unsupported(node, $"'{node.Inputs[input]}' must be a float32 scalar");
                    }
                    float min = Bound(1, "min", float.NegativeInfinity), max = Bound(2, "max", float.PositiveInfinity);
                    if (!(min <= max)) throw Unsupported(node, $"min {min} is above max {max}");
                    int result = Act(node, x);
                    if (!float.IsNegativeInfinity(min)) result = Record(node, OpKind.ClampMin, new[] { result }, scalar: min);
                    if (!float.IsPositiveInfinity(max)) result = Record(node, OpKind.ClampMax, new[] { result }, scalar: max);
                    _activations[Output()] = result;
                    _ranks[Output()] = RankOf(x);
                    return;
                }
                case "Gelu":
                {
                    string approximate = Text(node, "approximate", "none");
                    if (approximate is not ("none" or "tanh")) throw Unsupported(node, $"approximate = '{approximate}'");
                    Activation(node, Output(), approximate == "tanh" ? OpKind.GeluTanh : OpKind.Gelu, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)));
                    return;
                }
                case "Cast":
                {
                    long to = IntAttribute(node, "to", 0);
                    string x = Input(node, 0);
                    if (to is (long)OnnxDataType.Int64 or (long)OnnxDataType.Int32 && _activations.TryGetValue(x, out int ids))
                    {
                        // Token ids given as floats, cast for a Gather from an embedding table: kept as floats (integral
                        // values), looked up by the Embedding kernel, which checks their range.
                        _indices[Output()] = ids;
                        _ranks[Output()] = RankOf(x);
                        return;
                    }
                    if (to != (long)OnnxDataType.Float || !_activations.ContainsKey(x)) throw Unsupported(node, "only a float32 activation cast to float32 (a no-op) is supported");
                    Alias(node, x, Output());
                    return;
                }
                case "Transpose":
                {
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    List<long> perm = node.Attributes.FirstOrDefault(a => a.Name == "perm")?.Ints ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToList();
                    if (perm.Count != rank || perm[0] != 0)
                        throw Unsupported(node, $"perm [{string.Join(", ", perm)}]: the batch (axis 0) must stay first"
                            + (rank == 3 && perm.Count == 3 && perm[0] == 1 && perm[1] == 0
                                ? " (this is how nn.MultiheadAttention's export runs sequence-first; write the attention batch-first, or declare the model in C# with MultiHeadAttention: docs/onnx.md)"
                                : ""));
                    Activation(node, Output(), OpKind.Permute, new[] { Act(node, x) }, rank, settings: new PermuteSettings(perm.Skip(1).Select(p => (int)p - 1).ToEquatableArray()));
                    return;
                }
                case "Concat":
                {
                    int rank = RankOf(Input(node, 0));
                    int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
                    int joined = Act(node, Input(node, 0));
                    for (int i = 1; i < node.Inputs.Count; i++)
                        joined = Record(node, OpKind.Concat, new[] { joined, Act(node, Input(node, i)) }, settings: new AxisSettings(axis - 1));
                    _activations[Output()] = joined;
                    _ranks[Output()] = rank;
                    return;
                }
                case "LayerNormalization":
                {
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    long axis = IntAttribute(node, "axis", -1);
                    if (axis != -1 && axis != rank - 1) throw Unsupported(node, $"axis {axis}: only the last axis is supported");
                    if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) throw Unsupported(node, "the mean and inverse deviation outputs are not supported");
                    _weights.Add(new(name + ".weight", Const(node, Input(node, 1))));
                    if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
                    Activation(node, Output(), OpKind.LayerNorm, new[] { Act(node, x) }, rank, name, FloatAttribute(node, "epsilon", 1e-5f));
                    return;
                }
                case "Softmax" or "LogSoftmax":
                {
                    int rank = RankOf(Input(node, 0));
                    long axis = IntAttribute(node, "axis", _model.DefaultOpset >= 13 ? -1 : 1);
                    if (axis != -1 && axis != rank - 1) throw Unsupported(node, $"axis {axis} of a rank-{rank} input: only the last axis is supported");
                    Activation(node, Output(), node.OpType == "Softmax" ? OpKind.Softmax : OpKind.LogSoftmax, new[] { Act(node, Input(node, 0)) }, rank);
                    return;
                }
                case "Flatten":
                {
                    if (IntAttribute(node, "axis", 1) != 1) throw Unsupported(node, "only axis 1 (keep the batch, flatten the rest) is supported");
                    Activation(node, Output(), OpKind.Flatten, new[] { Act(node, Input(node, 0)) }, 2);
                    return;
                }
                case "Reshape":
                {
                    string x = Input(node, 0);
                    OnnxConstant shape = Const(node, Input(node, 1));
                    long[] dims = shape.Longs ?? throw Unsupported(node, "the shape must be an integer constant");
                    bool[] batch = shape.Batch ?? new bool[dims.Length];
                    // The first dimension stays the batch: the batch itself (computed from Shape), -1, 0 (copy), or the 1 a
                    // file with a fixed batch writes. The batch anywhere else would mix samples: not per-sample code.
                    if (dims.Length < 2 || !(batch[0] ? dims[0] == 1 : dims[0] is -1 or 0 or 1) || batch.Skip(1).Any(b => b))
                        throw Unsupported(node, $"shape {shape.Describe()}: the first dimension must stay the batch, and no other may depend on it");
                    bool allowZero = IntAttribute(node, "allowzero", 0) != 0;
                    int[] input = SampleShape(node, x);
                    int[] sample = dims.Skip(1).Select((d, i) => d != 0 ? (int)d
                        : !allowZero && i < input.Length ? input[i] : throw Unsupported(node, $"shape {shape.Describe()}: a 0 here has no dimension to copy")).ToArray();
                    Activation(node, Output(), OpKind.Reshape, new[] { Act(node, x) }, dims.Length, settings: new ReshapeSettings(new EquatableArray<int>(sample)));
                    return;
                }
                case "Gemm":
                {
                    if (IntAttribute(node, "transA", 0) != 0) throw Unsupported(node, "transA = 1 is not supported");
                    float alpha = FloatAttribute(node, "alpha", 1f), beta = FloatAttribute(node, "beta", 1f);
                    OnnxConstant b = Const(node, Input(node, 1));
                    if (b.Floats is null || b.Dims.Length != 2) throw Unsupported(node, "B must be a float32 matrix initializer");
                    bool transB = IntAttribute(node, "transB", 0) != 0;
                    float[] weight = transB ? b.Floats : Transpose(b.Floats, (int)b.Dims[0], (int)b.Dims[1]);
                    long outputs = transB ? b.Dims[0] : b.Dims[1], inputs = transB ? b.Dims[1] : b.Dims[0];
                    if (alpha != 1f) weight = weight.Select(v => v * alpha).ToArray();
                    float[]? bias = null;
                    if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
                    {
                        OnnxConstant c = Const(node, Input(node, 2));
                        if (c.Floats is null || c.Floats.Length != outputs) throw Unsupported(node, "C must be a float32 vector of one value per output");
                        bias = beta == 1f ? c.Floats : c.Floats.Select(v => v * beta).ToArray();
                    }
                    Linear(node, Output(), name, weight, outputs, inputs, bias);
                    return;
                }
                case "MatMul":
                {
                    string left = Input(node, 0), right = Input(node, 1);
                    if (_constants.TryGetValue(right, out OnnxConstant? w) && w.Dims.Length == 2 && w.Floats is not null)
                    {
                        // x · W with W [in, out] is a Linear with weight Wᵀ; an Add of a bias right after (its only reader) joins it.
                        float[]? bias = null;
                        string output = Output();
                        if (OnlyConsumer(nodes, output, out int next) is { OpType: "Add" } add && add.Inputs.Count == 2)
                        {
                            string other = add.Inputs[0] == output ? add.Inputs[1] : add.Inputs[0];
                            if (_constants.TryGetValue(other, out OnnxConstant? b) && b.Floats is not null && b.Floats.Length == w.Dims[1]
                                && b.Dims.Take(b.Dims.Length - 1).All(d => d == 1))
                            {
                                bias = b.Floats;
                                output = add.Outputs[0];
                                skip.Add(next);
                            }
                        }
                        Linear(node, output, name, Transpose(w.Floats, (int)w.Dims[0], (int)w.Dims[1]), w.Dims[1], w.Dims[0], bias);
                        return;
                    }
                    Activation(node, Output(), OpKind.MatMul, new[] { Act(node, left), Operand(node, right) }, RankOf(left));
                    return;
                }
                case "Add" or "Mul" or "Sub" or "Div":
                    Binary(node, Output());
                    return;
                case "QuantizeLinear":
                {
                    // On an activation (a QDQ model's activations, or the input of a MatMulInteger): the codes, as floats.
                    string x = Input(node, 0);
                    (float scale, long zero, OnnxDataType type) = QuantizationParameters(node, 1);
                    if (node.Attributes.Any(a => a.Name == "output_dtype" && a.I != 0 && a.I != (long)type))
                        throw Unsupported(node, "an output_dtype other than the zero point's type is not supported");
                    (int low, int high) = type switch
                    {
                        OnnxDataType.UInt8 => (0, 255),
                        OnnxDataType.Int8 => (-128, 127),
                        OnnxDataType.UInt16 => (0, 65535),
                        OnnxDataType.Int16 => (-32768, 32767),
                        _ => throw Unsupported(node, $"codes of type {type} are not supported (uint8, int8, uint16, int16 are)"),
                    };
                    Activation(node, Output(), OpKind.QuantizeLinear, new[] { Act(node, x) }, RankOf(x), scalar: scale, settings: new QuantizeCodes((int)zero, low, high));
                    return;
                }
                case "DequantizeLinear":
                {
                    // Of an activation (of a constant it was folded above): (q − zero) · scale, as two fused steps.
                    string x = Input(node, 0);
                    (float scale, long zero, _) = QuantizationParameters(node, 1);
                    int result = Act(node, x);
                    if (zero != 0) result = Record(node, OpKind.AddScalar, new[] { result }, scalar: -zero);
                    _activations[Output()] = Record(node, OpKind.MulScalar, new[] { result }, scalar: scale);
                    _ranks[Output()] = RankOf(x);
                    return;
                }
                case "MatMulInteger":
                {
                    // Codes (an activation from QuantizeLinear) times integer weights, exactly: both shifted by their zero
                    // points, the weights as floats; every product and sum is an integer below 2^24, so float is exact.
                    string a = Input(node, 0);
                    OnnxConstant b = Const(node, Input(node, 1));
                    long[] codes = b.PlainLongs ?? throw Unsupported(node, "B must be an integer initializer");
                    if (b.Dims.Length != 2) throw Unsupported(node, "B must be a matrix");
                    int inputs = (int)b.Dims[0], outputs = (int)b.Dims[1];
                    long zeroA = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? Const(node, node.Inputs[2]).PlainLongs is { Length: 1 } za ? za[0] : throw Unsupported(node, "a_zero_point must be one integer") : 0;
                    long[] zeroB = node.Inputs.Count > 3 && node.Inputs[3].Length > 0 ? Const(node, node.Inputs[3]).PlainLongs ?? throw Unsupported(node, "b_zero_point must be integers") : new long[] { 0 };
                    if (zeroB.Length != 1 && zeroB.Length != outputs) throw Unsupported(node, "b_zero_point must be one value or one per output");
                    var weight = new float[outputs * inputs];
                    for (int o = 0; o < outputs; o++)
                        for (int i = 0; i < inputs; i++) weight[o * inputs + i] = codes[(long)i * outputs + o] - zeroB[zeroB.Length == 1 ? 0 : o];
                    int x = Act(node, a);
                    if (zeroA != 0) x = Record(node, OpKind.AddScalar, new[] { x }, scalar: -zeroA);
                    _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { outputs, inputs }, weight, null)));
                    Activation(node, Output(), OpKind.Linear, new[] { x }, RankOf(a), name);
                    return;
                }
                case "DynamicQuantizeLinear":
                    throw Unsupported(node, "its scale is computed over the whole tensor, batch included, which couples the samples of a batch; "
                        + "quantize statically (QuantizeLinear) or compile the float model with Quantize = Quantization.Int8");
                case "Conv":
                {
                    string x = Input(node, 0);
                    int rank = RankOf(x);
                    OnnxConstant w = Const(node, Input(node, 1));
                    if (w.Floats is null || w.Dims.Length != rank || rank is not (3 or 4)) throw Unsupported(node, "only 1-D and 2-D convolutions with float32 weights are supported");
                    if (Text(node, "auto_pad", "NOTSET") != "NOTSET") throw Unsupported(node, "auto_pad is not supported; export with explicit pads");
                    int spatial = rank - 2;
                    if (w.Dims.Skip(2).Any(k => k != w.Dims[2])) throw Unsupported(node, $"kernel [{string.Join(", ", w.Dims.Skip(2))}]: only square kernels are supported");
                    int stride = Uniform(node, "strides", spatial, 1), dilation = Uniform(node, "dilations", spatial, 1);
                    int padding = Padding(node, x, spatial, (int)w.Dims[2], stride, dilation);
                    int groups = (int)IntAttribute(node, "group", 1);
                    _weights.Add(new(name + ".weight", w));
                    if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
                    Activation(node, Output(), rank == 4 ? OpKind.Conv2d : OpKind.Conv1d, new[] { Act(node, x) }, rank, name, settings: new ConvSettings(stride, padding, dilation, groups));
                    return;
                }
                case "MaxPool" or "AveragePool":
                {
                    string x = Input(node, 0);
                    if (RankOf(x) != 4) throw Unsupported(node, "only 2-D pooling is supported");
                    if (Text(node, "auto_pad", "NOTSET") != "NOTSET") throw Unsupported(node, "auto_pad is not supported; export with explicit pads");
                    if (node.OpType == "MaxPool" && node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported(node, "the indices output is not supported");
                    int kernel = Uniform(node, "kernel_shape", 2, -1), stride = Uniform(node, "strides", 2, 1);
                    int padding = Padding(node, x, 2, kernel, stride, 1, IntAttribute(node, "ceil_mode", 0) != 0);
                    if (Uniform(node, "dilations", 2, 1) != 1) throw Unsupported(node, "dilated pooling is not supported");
                    if (node.OpType == "AveragePool" && padding > 0 && IntAttribute(node, "count_include_pad", 0) == 0)
                        throw Unsupported(node, "averaging padded windows over the real values only (count_include_pad = 0) is not supported");
                    Activation(node, Output(), node.OpType == "MaxPool" ? OpKind.MaxPool2d : OpKind.AvgPool2d, new[] { Act(node, x) }, 4, settings: new PoolSettings(kernel, stride, padding));
                    return;
                }
                case "GlobalAveragePool":
                {
                    string x = Input(node, 0);
                    if (RankOf(x) != 4) throw Unsupported(node, "only [N, C, H, W] inputs are supported");
                    int pooled = Record(node, OpKind.GlobalAvgPool, new[] { Act(node, x) });
                    // ONNX keeps the pooled dimensions: [N, C, 1, 1].
                    int kept = Record(node, OpKind.Reshape, new[] { pooled }, settings: new ReshapeSettings(new EquatableArray<int>(new[] { -1, 1, 1 })));
                    _activations[Output()] = kept;
                    _ranks[Output()] = 4;
                    return;
                }
                case "BatchNormalization":
                {
                    if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) throw Unsupported(node, "training-mode outputs are not supported");
                    if (IntAttribute(node, "spatial", 1) != 1) throw Unsupported(node, "spatial = 0 (statistics per position, before opset 9) is not supported");
                    string x = Input(node, 0);
                    string[] parts = { "weight", "bias", "running_mean", "running_var" };
                    for (int i = 0; i < 4; i++) _weights.Add(new(name + "." + parts[i], Const(node, Input(node, i + 1))));
                    Activation(node, Output(), OpKind.BatchNorm, new[] { Act(node, x) }, RankOf(x), name, FloatAttribute(node, "epsilon", 1e-5f));
                    return;
                }
                default:
                    throw Unsupported(node, $"{node.OpType} is not among the supported operators ({string.Join(", ", Supported)})");
            }
        }

        /// <summary>A per-tensor scale and zero point (inputs <paramref name="first"/> and after): the zero point's type sets the codes.</summary>
        private (float Scale, long Zero, OnnxDataType Type) QuantizationParameters(OnnxNode node, int first)
        {
            OnnxConstant scale = Const(node, Input(node, first));
            if (scale.Count != 1 || scale.Floats is null) throw Unsupported(node, "only one float scale (per tensor) is supported on activations");
            if (!(scale.Floats[0] > 0f) || float.IsInfinity(scale.Floats[0])) throw Unsupported(node, $"scale {scale.Floats[0]} is not a positive number");
            if (node.Inputs.Count <= first + 1 || node.Inputs[first + 1].Length == 0) return (scale.Floats[0], 0, OnnxDataType.UInt8);
            OnnxConstant zero = Const(node, node.Inputs[first + 1]);
            if (zero.Count != 1 || zero.PlainLongs is null) throw Unsupported(node, "only one integer zero point (per tensor) is supported on activations");
            return (scale.Floats[0], zero.PlainLongs[0], zero.Type);
        }

        private void Binary(OnnxNode node, string output)
        {
            string a = Input(node, 0), b = Input(node, 1);
            bool constA = _constants.ContainsKey(a), constB = _constants.ContainsKey(b);
            string op = node.OpType;
            string activation = constA ? b : a, other = constA ? a : b;
            int rank = Math.Max(RankOf(activation), RankOf(other)); // RankOf knows constants too
            if (_constants.TryGetValue(other, out OnnxConstant? c))
            {
                if (c.Floats is null) throw Unsupported(node, "the constant operand must be float32");
                int x = Act(node, activation);
                if (constA && op is "Sub" or "Div")
                {
                    // c − x = c + (−x); c / x = c · (1 / x).
                    x = Record(node, op == "Sub" ? OpKind.MulScalar : OpKind.Reciprocal, new[] { x }, scalar: -1f);
                    op = op == "Sub" ? "Add" : "Mul";
                }
                float[] values = op switch
                {
                    "Sub" => c.Floats.Select(v => -v).ToArray(),
                    "Div" => c.Floats.Select(v => 1f / v).ToArray(),
                    _ => c.Floats,
                };
                OpKind kind = op is "Add" or "Sub" ? OpKind.Add : OpKind.Mul;
                if (values.Length == 1)
                {
                    Activation(node, output, kind == OpKind.Add ? OpKind.AddScalar : OpKind.MulScalar, new[] { x }, rank, scalar: values[0]);
                    return;
                }
                // A weight has no batch dimension: leading 1s of ONNX's full-rank constant broadcast over it.
                long[] dims = c.Dims.SkipWhile((d, i) => d == 1 && c.Dims.Length - i >= RankOf(activation)).ToArray();
                string weight = "c" + _weights.Count.ToString(CultureInfo.InvariantCulture) + ":" + other;
                _weights.Add(new(weight, new OnnxConstant(dims, values, null)));
                int parameter = Record(node, OpKind.Parameter, Array.Empty<int>(), weight);
                Activation(node, output, kind, new[] { x, parameter }, rank);
                return;
            }
            int left = Act(node, a), right = Act(node, b);
            switch (op)
            {
                case "Add": Activation(node, output, OpKind.Add, new[] { left, right }, rank); return;
                case "Mul": Activation(node, output, OpKind.Mul, new[] { left, right }, rank); return;
                case "Sub":
                {
                    int negated = Record(node, OpKind.MulScalar, new[] { right }, scalar: -1f);
                    Activation(node, output, OpKind.Add, new[] { left, negated }, rank);
                    return;
                }
                default:
                {
                    int reciprocal = Record(node, OpKind.Reciprocal, new[] { right });
                    Activation(node, output, OpKind.Mul, new[] { left, reciprocal }, rank);
                    return;
                }
            }
        }

        private void Linear(OnnxNode node, string output, string name, float[] weight, long outputs, long inputs, float[]? bias)
        {
            _weights.Add(new(name + ".weight", new OnnxConstant(new[] { outputs, inputs }, weight, null)));
            if (bias is not null) _weights.Add(new(name + ".bias", new OnnxConstant(new[] { outputs }, bias, null)));
            string x = Input(node, 0);
            Activation(node, output, OpKind.Linear, new[] { Act(node, x) }, RankOf(x), name);
        }

        private void Activation(OnnxNode node, string output, OpKind kind, int[] inputs, int rank, string? name = null, float scalar = 0f, OpSettings? settings = null)
        {
            _activations[output] = Record(node, kind, inputs, name, scalar, settings);
            _ranks[output] = rank;
        }

        private int Record(OnnxNode node, OpKind kind, int[] inputs, string? name = null, float scalar = 0f, OpSettings? settings = null)
        {
            if (kind == OpKind.Parameter && name is not null && _parameters.TryGetValue(name, out int existing)) return existing;
            string text = $"{node.OpType} '{(node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault() ?? "")}'";
            _ops.Add(new RecordedOp(_ops.Count, kind, new EquatableArray<int>(inputs), name, scalar, settings, _at, null, text));
            if (kind == OpKind.Parameter && name is not null) _parameters[name] = _ops.Count - 1;
            return _ops.Count - 1;
        }

        private void Alias(OnnxNode node, string from, string to)
        {
            if (_activations.TryGetValue(from, out int id))
            {
                _activations[to] = id;
                _ranks[to] = RankOf(from);
            }
            else if (_constants.TryGetValue(from, out OnnxConstant? c)) _constants[to] = c;
            else throw Unsupported(node, $"input '{from}' is not computed before it");
        }

        /// <summary>An operand that may be a weight (a Parameter op) or an activation.</summary>
        private int Operand(OnnxNode node, string value)
        {
            if (!_constants.TryGetValue(value, out OnnxConstant? c)) return Act(node, value);
            if (c.Floats is null) throw Unsupported(node, $"constant '{value}' must be float32");
            string weight = "c" + _weights.Count.ToString(CultureInfo.InvariantCulture) + ":" + value;
            _weights.Add(new(weight, c));
            return Record(node, OpKind.Parameter, Array.Empty<int>(), weight);
        }

        private int Act(OnnxNode node, string value) =>
            _activations.TryGetValue(value, out int id) ? id
            : throw Unsupported(node, _constants.ContainsKey(value) ? $"'{value}' is a constant where an activation is expected" : $"input '{value}' is not computed before it");

        private OnnxConstant Const(OnnxNode node, string value) =>
            _constants.TryGetValue(value, out OnnxConstant? c) ? c : throw Unsupported(node, $"'{value}' must be known at build time (an initializer, a Constant, or computed from them and from shapes)");

        /// <summary>An activation's shape without the batch, inferring the ops recorded since the last time one was asked for.</summary>
        private int[] SampleShape(OnnxNode node, string value)
        {
            int id = Act(node, value);
            while (_nodes.Count <= id)
            {
                if (_header is null || _headerWeights != _weights.Count)
                {
                    _header = SafeTensorsHeader.Of(_weights.GroupBy(w => w.Key, StringComparer.Ordinal)
                        .Select(g => new SafeTensorEntry(g.Key, "F32", g.First().Value.Dims.Select(d => (int)d).ToArray(), 0, 0)));
                    _headerWeights = _weights.Count;
                }
                Node? inferred = ShapeInference.Infer(_ops[_nodes.Count], _nodes, _declaration!, _header, _diagnostics);
                if (inferred is null) throw new Stop(); // the shape error is the diagnostic
                _nodes.Add(inferred);
            }
            return _nodes[id].Shape;
        }

        /// <summary>
        /// Conv and pool padding as one number for every side. ONNX may pad the end less than the start (CNTK and
        /// TensorFlow exports do, for stride 2); when that yields the same output size as padding both sides alike, no
        /// window reads the difference, so it is the same computation. The same holds for ceil_mode.
        /// </summary>
        private int Padding(OnnxNode node, string x, int spatial, int kernel, int stride, int dilation, bool ceil = false)
        {
            OnnxAttribute? attribute = node.Attributes.FirstOrDefault(a => a.Name == "pads");
            List<long> pads = attribute?.Ints ?? new List<long>();
            if (pads.Count == 0) pads = Enumerable.Repeat(0L, 2 * spatial).ToList();
            if (pads.Count != 2 * spatial || pads.Any(p => p < 0 || p > 1 << 20)) throw Unsupported(node, $"pads [{string.Join(", ", pads)}] do not fit a {spatial}-D window");
            long begin = pads[0];
            if (pads.Take(spatial).Any(p => p != begin)) throw Unsupported(node, $"pads [{string.Join(", ", pads)}]: only the same padding at the start of every axis is supported");
            if (pads.All(p => p == begin) && !ceil) return (int)begin;
            int[] shape = SampleShape(node, x);
            long reach = (long)dilation * (kernel - 1) + 1;
            for (int d = 0; d < spatial; d++)
            {
                long size = shape[shape.Length - spatial + d];
                long span = size + begin + pads[spatial + d] - reach, same = size + 2 * begin - reach;
                long given = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
                if (span < 0 || same < 0 || given != same / stride + 1)
                    throw Unsupported(node, $"pads [{string.Join(", ", pads)}]{(ceil ? " with ceil_mode" : "")} give {given} outputs along axis {d + 2} where padding {begin} on both sides gives {same / stride + 1}: not supported");
            }
            return (int)begin;
        }

        /// <summary>An ONNX axis (negative from the end) of a rank-<paramref name="rank"/> value, which must not be the batch's.</summary>
        private int SampleAxis(OnnxNode node, long axis, int rank)
        {
            long resolved = axis < 0 ? axis + rank : axis;
            return resolved > 0 && resolved < rank ? (int)resolved : throw Unsupported(node, $"axis {axis}: only sample axes (not the batch) are supported");
        }

        private int RankOf(string value) => _ranks.TryGetValue(value, out int r) ? r : _constants.TryGetValue(value, out OnnxConstant? c) ? c.Dims.Length : 0;

        private string Input(OnnxNode node, int i) =>
            i < node.Inputs.Count && node.Inputs[i].Length > 0 ? node.Inputs[i] : throw Unsupported(node, $"input {i} is missing");

        /// <summary>Axes given as an attribute before <paramref name="inputFromOpset"/>, as a constant second input from it on.</summary>
        private long[] Axes(OnnxNode node, int inputFromOpset)
        {
            if (_model.DefaultOpset < inputFromOpset) return node.Attributes.FirstOrDefault(a => a.Name == "axes")?.Ints.ToArray() ?? Array.Empty<long>();
            if (node.Inputs.Count < 2 || node.Inputs[1].Length == 0) return Array.Empty<long>();
            return Const(node, node.Inputs[1]).PlainLongs ?? throw Unsupported(node, "the axes must be an integer constant");
        }

        private static long IntAttribute(OnnxNode node, string name, long fallback) => node.Attributes.FirstOrDefault(a => a.Name == name)?.I ?? fallback;

        private static float FloatAttribute(OnnxNode node, string name, float fallback) => node.Attributes.FirstOrDefault(a => a.Name == name)?.F ?? fallback;

        private static string Text(OnnxNode node, string name, string fallback) =>
            node.Attributes.FirstOrDefault(a => a.Name == name) is { } a ? Encoding.UTF8.GetString(a.S) : fallback;

        /// <summary>An ints attribute whose values must all be equal (square kernels, same stride and padding on every side).</summary>
        private int Uniform(OnnxNode node, string name, int count, int fallback)
        {
            OnnxAttribute? attribute = node.Attributes.FirstOrDefault(a => a.Name == name);
            if (attribute is null || attribute.Ints.Count == 0)
                return fallback >= 0 ? fallback : throw Unsupported(node, $"'{name}' is required");
            if (attribute.Ints.Count != count || attribute.Ints.Any(v => v != attribute.Ints[0]) || attribute.Ints[0] < 0 || attribute.Ints[0] > 1 << 20)
                throw Unsupported(node, $"{name} [{string.Join(", ", attribute.Ints)}]: only the same value in every place is supported");
            return (int)attribute.Ints[0];
        }

        /// <summary>The weights the ops read, as a safetensors file: a JSON header of F32 tensors, then their bytes.</summary>
        private byte[] SafeTensorsImage()
        {
            var header = new StringBuilder("{");
            long offset = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var kept = new List<KeyValuePair<string, OnnxConstant>>();
            foreach (KeyValuePair<string, OnnxConstant> w in _weights)
            {
                if (!seen.Add(w.Key)) continue;
                if (w.Value.Floats is null) throw Fail($"'{w.Key}' must be float32");
                long end = offset + 4L * w.Value.Floats.Length;
                if (kept.Count > 0) header.Append(',');
                header.Append('"').Append(Escape(w.Key)).Append("\":{\"dtype\":\"F32\",\"shape\":[")
                    .Append(string.Join(",", w.Value.Dims.Select(d => d.ToString(CultureInfo.InvariantCulture))))
                    .Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
                offset = end;
                kept.Add(w);
            }
            header.Append('}');
            byte[] json = Encoding.UTF8.GetBytes(header.ToString());
            var image = new byte[8 + json.Length + offset];
            BitConverter.GetBytes((long)json.Length).CopyTo(image, 0);
            json.CopyTo(image, 8);
            long at = 8 + json.Length;
            foreach (KeyValuePair<string, OnnxConstant> w in kept)
            {
                Buffer.BlockCopy(w.Value.Floats!, 0, image, (int)at, w.Value.Floats!.Length * 4);
                at += w.Value.Floats.Length * 4L;
            }
            return image;
        }

        private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

        private Stop Unsupported(OnnxNode node, string why)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, _at,
                node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault() ?? "", node.OpType, node.Domain.Length == 0 ? "ai.onnx" : node.Domain,
                _model.DefaultOpset.ToString(CultureInfo.InvariantCulture), why));
            return new Stop();
        }

        private Stop Fail(string why)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, _at, _file, why));
            return new Stop();
        }
    }
}
