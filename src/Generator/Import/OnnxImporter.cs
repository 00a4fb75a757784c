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
    public OnnxImport(List<RecordedOp> ops, EquatableArray<ModelValue> inputs, EquatableArray<ModelOutput> outputs, byte[] weights)
    {
        Ops = ops; Inputs = inputs; Outputs = outputs; Weights = weights;
    }

    public List<RecordedOp> Ops { get; }

    /// <summary>The graph's inputs that are not initializers, in the file's order, each with its per-sample shape.</summary>
    public EquatableArray<ModelValue> Inputs { get; }

    /// <summary>The graph's outputs, in the file's order: the op computing each, and its name.</summary>
    public EquatableArray<ModelOutput> Outputs { get; }

    /// <summary>The weights the ops name, as a safetensors file image: the rest of the pipeline reads weights from one.</summary>
    public byte[] Weights { get; }

    /// <summary>The weights of the image whose floats lie, as they are or transposed, in the model's files: the runtime may read them there.</summary>
    public IReadOnlyDictionary<string, OnnxOrigin> Origins { get; init; } = new Dictionary<string, OnnxOrigin>();

    /// <summary>Compiled whole: no dimension is the batch; one sample is every input as the file shapes it.</summary>
    public bool Whole { get; init; }

    /// <summary>Each output's shape as the file declares it (null dimensions symbolic or unknown), or null where it declares none.</summary>
    public long?[]?[] DeclaredOutputShapes { get; init; } = Array.Empty<long?[]?>();

    /// <summary>
    /// What is wrong with a declared output shape, given the shapes shape inference found for one sample; null when they
    /// agree (the first dimension is the batch; a symbolic or unknown dimension agrees with anything). onnx's checker and
    /// ONNX Runtime refuse a file whose declared shape disagrees; so does the compiler, rather than pick one.
    /// </summary>
    public string? OutputShapeError(int[][] samples)
    {
        for (int o = 0; o < samples.Length && o < DeclaredOutputShapes.Length; o++)
        {
            long?[]? shape = DeclaredOutputShapes[o];
            if (shape is null) continue;
            int[] sample = samples[o];
            if (Whole && shape.Length == 0 && sample.Length == 1 && sample[0] == 1) continue; // a scalar computed from scalars, carried as [1]
            string declared = "[" + string.Join(", ", shape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?")) + "]";
            string computed = "[" + (Whole ? "" : "N, ") + string.Join(", ", sample) + "]";
            long?[] sampleDims = Whole ? shape : shape.Skip(1).ToArray();
            if (sampleDims.Length != sample.Length || shape.Length == 0 && !Whole || sampleDims.Where((d, i) => d is not null && d.Value != sample[i]).Any())
                return $"output '{Outputs[o].Name}' is declared {declared}, but the graph computes {computed}";
        }
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
    /// <summary>The most inputs, and the most outputs, a compiled model has (each is a parameter of its <c>Predict</c>).</summary>
    public const int MaxValues = 64;

    /// <summary>The most nodes a graph may have: the import's work (and the generated code) stays bounded.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>The operators lowered or folded, for docs/onnx.md (generated from this list by a test), in ordinal order.</summary>
    public static readonly string[] Supported =
        Lowering.Operators.Keys.Concat(Lowering.Foldable).Distinct().OrderBy(o => o, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Reads external data files beside <paramref name="modelPath"/>. A location must be relative and stay inside the
    /// model's folder (as onnx's checker and ONNX Runtime require: no absolute path, no way out through <c>..</c>).
    /// With <paramref name="listed"/> (the AdditionalFiles), only a listed file is read: the incremental pipeline keys a
    /// model on its files, so an unlisted file would go stale unnoticed. The package's targets list <c>*.onnx.data</c>
    /// and <c>*.onnx_data</c>. Each file read adds its location, length and hash to <paramref name="read"/>: the hashes key
    /// the plan with the model's own, and a model whose weights are not embedded reads them from these files.
    /// </summary>
    public static Func<string, byte[]> ExternalFiles(string modelPath, IReadOnlyCollection<WeightsFileRef>? listed, long maxBytes, List<OnnxFilePart>? read = null) => location =>
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
        read?.Add(new OnnxFilePart(location, bytes.Length, WeightLayout.Hash(bytes)));
        return bytes;
    };

    /// <summary>The hash of a model file and the external data files it read, in the order read: the model file's alone when it has none.</summary>
    public static string CombinedHash(string modelHash, IEnumerable<OnnxFilePart> external) => string.Join("+", new[] { modelHash }.Concat(external.Select(e => e.Hash)));

    /// <summary>Lowers a read ONNX file; <paramref name="external"/> reads an external data file by its location (relative to the model).</summary>
    /// <remarks>
    /// Each input's first dimension is the batch where the graph allows it (every input has one, and they agree). A graph
    /// whose inputs do not all have one (a rank-1 input, a bias given as an input), or that computes across the first
    /// dimension (a reduction or a concatenation over it), is compiled whole instead when all its dimensions are numbers:
    /// one sample is every input as the file shapes it, and <c>Predict</c>'s batch is how many such sets a call holds.
    /// When neither compiles, the diagnostics are the batched import's (or the whole one's, when there is no batch).
    /// </remarks>
    public static OnnxImport? Import(byte[] bytes, OnnxModel model, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external = null,
        IReadOnlyDictionary<string, long>? dims = null)
    {
        dims ??= new Dictionary<string, long>(StringComparer.Ordinal);
        List<OnnxValueInfo> inputs = model.Graph.Inputs.Where(v => !model.Graph.Initializers.Any(t => t.Name == v.Name)).ToList();
        bool batched = inputs.Count > 0 && inputs.All(v => v.Shape is { Count: >= 2 })
            && inputs.Select(v => v.Shape![0].Value).Where(d => d is not null).Distinct().Count() <= 1;
        bool whole = inputs.Count > 0 && inputs.All(v => v.Shape is not null && v.Shape.Select((_, d) => Lowering.Fixed(v, d, dims)).All(d => d is > 0 and <= int.MaxValue));
        var first = new List<DiagnosticInfo>();
        OnnxImport? import = new Lowering(bytes, model, file, at, first, external, whole: !batched && whole, dims).Run();
        if (import is null && batched && whole)
        {
            var second = new List<DiagnosticInfo>();
            import = new Lowering(bytes, model, file, at, second, external, whole: true, dims).Run();
            if (import is not null) first = second;
        }
        diagnostics.AddRange(first);
        return import;
    }

    /// <summary>Reads and lowers an ONNX file; null (with diagnostics) when it cannot be compiled.</summary>
    public static OnnxImport? Import(byte[] bytes, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external = null,
        IReadOnlyDictionary<string, long>? dims = null)
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
        return Import(bytes, model, file, at, diagnostics, external, dims);
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
        private List<OnnxNode> _graph = new();

        /// <summary>
        /// Compiled whole: one sample is every input as the file shapes it (no dimension is the batch). Inside, every value
        /// keeps a leading dimension all the same, the compiler's batch, so ranks are the file's plus one and an ONNX axis
        /// is one more (<see cref="Lead"/>).
        /// </summary>
        private readonly bool _whole;

        /// <summary>Symbolic dimensions fixed by the attribute's <c>Dims</c> ("height=640").</summary>
        private readonly IReadOnlyDictionary<string, long> _dims;

        /// <summary>
        /// Dimension <paramref name="d"/> of an input: the one <c>Dims</c> gives it by place (<c>"input[1]=576"</c>, for a
        /// dimension the file leaves unnamed), else the file's number, else the one <c>Dims</c> gives its name; null when it varies.
        /// </summary>
        internal static long? Fixed(OnnxValueInfo input, int d, IReadOnlyDictionary<string, long> dims)
        {
            if (dims.TryGetValue(input.Name + "[" + d.ToString(CultureInfo.InvariantCulture) + "]", out long at)) return at;
            OnnxDimension dimension = input.Shape![d];
            return dimension.Value ?? (dimension.Parameter is { } p && dims.TryGetValue(p, out long v) ? v : null);
        }

        /// <summary>How many leading dimensions of a value's rank are not the file's: 1 when compiled whole, else 0.</summary>
        private int Lead => _whole ? 1 : 0;
        /// <summary>Nodes already lowered by a pattern that starts before them (a bias Add joined to its MatMul, a decomposed LayerNorm).</summary>
        private readonly HashSet<int> _skip = new();
        /// <summary>Where unnamed nodes' names start: empty in the graph, a prefix per If branch (<c>b1_</c>), so that no two are alike.</summary>
        private string _scope = "";
        private int _branches;
        /// <summary>The node being lowered (where a pattern starts).</summary>
        private int _index;
        private ModelDeclaration? _declaration;
        private SafeTensorsHeader? _header;
        private int _headerWeights = -1;

        private readonly Func<string, byte[]>? _external;
        private readonly Dictionary<string, byte[]> _externalFiles = new(StringComparer.Ordinal);

        public Lowering(byte[] bytes, OnnxModel model, string file, LocationInfo? at, List<DiagnosticInfo> diagnostics, Func<string, byte[]>? external, bool whole,
            IReadOnlyDictionary<string, long> dims)
        {
            _whole = whole;
            _dims = dims;
            _bytes = bytes; _model = model; _file = file; _at = at; _diagnostics = diagnostics;
            if (external is not null)
                _external = location => _externalFiles.TryGetValue(location, out byte[]? read) ? read : _externalFiles[location] = external(location);
        }

        /// <summary>Ends the lowering of one node (MC0013, reported) or, when <see cref="Fatal"/>, of the whole file (MC0003, a shape error).</summary>
        private sealed class Stop : Exception
        {
            public bool Fatal { get; init; }
        }

        /// <summary>The most unsupported nodes reported one by one; the rest are counted in one more diagnostic.</summary>
        public const int MaxBlockers = 20;

        /// <summary>Values that a node which cannot be compiled would have computed: the nodes reading them are not reported too.</summary>
        private readonly HashSet<string> _blocked = new(StringComparer.Ordinal);

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
                // Reads inside If branches count too, so that no pattern joins a value a branch also reads.
                foreach (OnnxNode n in graph.Nodes.Concat(Subgraphs(graph).SelectMany(g => g.Nodes)))
                    foreach (string i in n.Inputs) _uses[i] = _uses.TryGetValue(i, out int u) ? u + 1 : 1;
                for (int i = 0; i < graph.Nodes.Count; i++)
                    foreach (string read in graph.Nodes[i].Inputs.Distinct())
                    {
                        if (!_consumers.TryGetValue(read, out List<int>? list)) _consumers[read] = list = new List<int>();
                        list.Add(i);
                    }
                foreach (OnnxValueInfo o in graph.Outputs) _uses[o.Name] = _uses.TryGetValue(o.Name, out int u) ? u + 1 : 1;

                List<OnnxValueInfo> inputs = graph.Inputs.Where(v => !_constants.ContainsKey(v.Name)).ToList();
                if (inputs.Count == 0) throw Fail("the graph has no input besides its initializers; a compiled model computes from at least one");
                if (inputs.Count > MaxValues) throw Fail($"the graph has {inputs.Count} inputs; a compiled model takes at most {MaxValues}");
                var declared = new List<ModelValue>();
                foreach (OnnxValueInfo input in inputs)
                {
                    string what = $"ONNX input '{input.Name}'";
                    ElementType type = ElementTypeOf(input.ElementType)
                        ?? throw Refuse(what, TypeRefusal(input.ElementType, "takes"));
                    // A scalar (rank 0) compiled whole is a value of one element, [1], where only broadcasting reads it
                    // (a bound, a bias, an exponent): there [1] and [] give the same result, and nothing sees its rank.
                    bool scalar = _whole && input.Shape is { Count: 0 };
                    if (scalar && !OnlyBroadcast(graph, input.Name))
                        throw Refuse(what, "it is a scalar (rank 0), which a compiled model takes only where it broadcasts (as a bound, bias or operand of arithmetic)");
                    if (input.Shape is null || input.Shape.Count < 2 - Lead && !scalar)
                        throw Refuse(what, "it needs a shape of [batch, …] with at least one more dimension");
                    var sample = scalar ? new[] { 1 } : new int[input.Shape.Count - 1 + Lead];
                    for (int d = 1 - Lead; d < input.Shape.Count; d++)
                    {
                        long? v = Fixed(input, d, _dims);
                        if (v is null or <= 0 or > int.MaxValue)
                            throw Refuse(what, input.Shape[d].Parameter is { Length: > 0 } symbol
                                ? $"dimension {d} is '{symbol}', which varies (only the first, the batch, may); fix it at build time with Dims = new[] {{ \"{symbol}=…\" }} in [CompileModel]"
                                : v is null
                                    ? $"dimension {d} is unknown (unnamed), and only the first (the batch) may vary; fix it at build time with Dims = new[] {{ \"{input.Name}[{d}]=…\" }} in [CompileModel]"
                                    : $"dimension {d} is {v.Value.ToString(CultureInfo.InvariantCulture)}: every dimension but the batch must be a positive number");
                        sample[d - 1 + Lead] = (int)v.Value;
                    }
                    long sampleCount = SizeMath.Product(sample);
                    if (!SizeMath.Fits(sampleCount))
                        throw Fail($"input '{input.Name}' is [N, {string.Join(", ", sample)}]: {SizeMath.Format(sampleCount)} values per sample, more than the {SizeMath.Format(SizeMath.MaxElements)} one tensor can hold");
                    int index = declared.Count;
                    _ops.Add(new RecordedOp(_ops.Count, OpKind.Input, EquatableArray<int>.Empty, input.Name, 0f, new InputIndex(index), _at, null, input.Name));
                    declared.Add(new ModelValue(input.Name, new EquatableArray<int>(sample), type));
                    _activations[input.Name] = _ops.Count - 1;
                    _types[input.Name] = type;
                    // An integer input can index an embedding table (token ids), as a float input cast to integers can.
                    if (type.IsInteger() && type != ElementType.Bool) _indices[input.Name] = _ops.Count - 1;
                    _ranks[input.Name] = sample.Length + 1;
                }
                _declaration = new ModelDeclaration
                {
                    ClassLocation = _at,
                    WeightsFile = _file,
                    WeightsLocation = _at,
                    WeightsStorage = WeightsStorage.Embedded,
                    Inputs = declared.ToEquatableArray(),
                    IsOnnx = true,
                };

                // Constant nodes first: they read nothing, and the patterns below look ahead at constants (ε, 2, √2)
                // that exporters write after the node where a pattern starts.
                _graph = graph.Nodes;
                for (int index = 0; index < graph.Nodes.Count; index++)
                {
                    if (graph.Nodes[index].OpType != "Constant" || graph.Nodes[index].Domain is not ("" or "ai.onnx")) continue;
                    Lower(index);
                    _skip.Add(index);
                }
                // Every node that cannot be compiled is reported (up to MaxBlockers, then counted), not only the first, so that
                // a build shows how far a model is from compiling; the nodes that read what it would have computed are not.
                var more = new List<OnnxNode>();
                int blockers = 0;
                for (int index = 0; index < graph.Nodes.Count; index++)
                {
                    if (_skip.Contains(index)) continue;
                    OnnxNode node = graph.Nodes[index];
                    if (node.Inputs.Any(_blocked.Contains))
                    {
                        foreach (string output in node.Outputs) _blocked.Add(output);
                        continue;
                    }
                    int ops = _ops.Count, diagnostics = _diagnostics.Count;
                    try
                    {
                        try
                        {
                            Lower(index);
                        }
                        catch (OverflowException)
                        {
                            // Sizes are computed in checked arithmetic: a shape or attribute that wraps is refused, never lowered.
                            throw Unsupported(node, "its sizes overflow (a dimension, count or attribute past what one tensor can hold)");
                        }
                    }
                    catch (Stop stop) when (!stop.Fatal)
                    {
                        // What the node recorded before it stopped is taken back, so that no later shape reads it.
                        _ops.RemoveRange(ops, _ops.Count - ops);
                        if (_nodes.Count > ops) _nodes.RemoveRange(ops, _nodes.Count - ops);
                        foreach (string value in _activations.Where(a => a.Value >= ops).Select(a => a.Key).ToList()) _activations.Remove(value);
                        foreach (string output in node.Outputs) _blocked.Add(output);
                        if (++blockers > MaxBlockers)
                        {
                            _diagnostics.RemoveRange(diagnostics, _diagnostics.Count - diagnostics);
                            more.Add(node);
                        }
                    }
                }
                if (more.Count > 0)
                {
                    string counts = string.Join(", ", more.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                        .Select(g => $"{g.Key} ×{g.Count()}"));
                    Unsupported(more[0], $"this and {more.Count - 1} more nodes cannot be compiled ({counts}); only the first {MaxBlockers} nodes that cannot be compiled are reported one by one");
                }
                if (blockers > 0) return null;

                if (graph.Outputs.Count == 0) throw Fail("the graph has no output");
                if (graph.Outputs.Count > MaxValues) throw Fail($"the graph has {graph.Outputs.Count} outputs; a compiled model gives at most {MaxValues}");
                var outputs = new List<ModelOutput>();
                foreach (OnnxValueInfo o in graph.Outputs)
                {
                    ElementType type = o.ElementType == OnnxDataType.Undefined ? TypeOf(o.Name)
                        : ElementTypeOf(o.ElementType) ?? throw Refuse($"ONNX output '{o.Name}'", TypeRefusal(o.ElementType, "gives"));
                    if (!_activations.TryGetValue(o.Name, out int op))
                        throw Fail($"output '{o.Name}' is not computed from the inputs (a constant, or not computed at all)");
                    outputs.Add(new ModelOutput(op, o.Name, type));
                }
                // Every shape is inferred here, not only where a node asked: a graph that fits a batch by its inputs may not
                // by its operations (a weight as large as a whole input, a bias that broadcasts over the first dimension),
                // and the shape error must reach Import while the whole reading can still be tried.
                if (_ops.Count > 0) SampleShape(_ops.Count - 1);
                return new OnnxImport(_ops, declared.ToEquatableArray(), outputs.ToEquatableArray(), SafeTensorsImage(out Dictionary<string, OnnxOrigin> origins))
                {
                    Origins = origins,
                    Whole = _whole,
                    DeclaredOutputShapes = graph.Outputs.Select(o => o.Shape?.Select(d => d.Value).ToArray()).ToArray(),
                };
            }
            catch (Stop)
            {
                return null;
            }
        }

        /// <summary>
        /// Whether every node that reads <paramref name="value"/> only broadcasts it: an operand of arithmetic or of a
        /// comparison, a Clip bound, a Gemm's C, Dropout's ratio, Where's operands, an If's condition. A scalar read there may
        /// be carried as [1]; anywhere else its rank could show. A node that only moves the one value (Cast, Identity, a
        /// Reshape, Squeeze or Unsqueeze, a Gather of index 0: Silero VAD's <c>sr</c> goes through Reshape and Gather before
        /// Equal) passes it on, and its output is held to the same rule (to a bounded depth).
        /// </summary>
        private static bool OnlyBroadcast(OnnxGraph graph, string value, int depth = 0)
        {
            if (depth > 8 || graph.Outputs.Any(o => o.Name == value)) return false;
            foreach (OnnxNode n in graph.Nodes.Concat(Subgraphs(graph).SelectMany(g => g.Nodes)))
                for (int i = 0; i < n.Inputs.Count; i++)
                {
                    if (n.Inputs[i] != value) continue;
                    if (n.Domain is not ("" or "ai.onnx")) return false;
                    bool broadcast = n.OpType switch
                    {
                        "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Max" or "Min" or "Sum" or "Mean" or "PRelu" or "Equal" or "Greater" or "Less"
                            or "GreaterOrEqual" or "LessOrEqual" or "And" or "Or" or "Xor" or "Mod" => n.Inputs.Count > 1,
                        "Clip" or "Dropout" => i >= 1,
                        "Gemm" => i == 2,
                        "Where" => true,
                        "If" => i == 0,
                        "Cast" or "Identity" or "Squeeze" or "Unsqueeze" or "Reshape" or "Gather" when i == 0 && n.Outputs.Count == 1
                            => OnlyBroadcast(graph, n.Outputs[0], depth + 1),
                        _ => false,
                    };
                    if (!broadcast) return false;
                }
            return true;
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

        /// <summary>Every graph nested in <paramref name="graph"/>'s nodes (If branches, and theirs), depth first; the reader bounds the depth.</summary>
        private static IEnumerable<OnnxGraph> Subgraphs(OnnxGraph graph) =>
            graph.Nodes.SelectMany(n => n.Attributes).Where(a => a.G is not null).SelectMany(a => new[] { a.G! }.Concat(Subgraphs(a.G!)));

        /// <summary>Lowers node <paramref name="index"/> of the graph: folded when its inputs are constants, else by its operator's entry in <see cref="Operators"/>.</summary>
        private void Lower(int index)
        {
            OnnxNode node = _graph[index];
            _index = index;
            if (node.Domain is not ("" or "ai.onnx")) throw Unsupported(node, "only the default ONNX domain is supported");
            // Layers are named as the file names its node (what FloatLayers takes), else by position.
            string name = node.Name.Length > 0 && _names.Add(node.Name) ? node.Name : "n" + _scope + index.ToString(CultureInfo.InvariantCulture);
            if (Fold(node, () => Output(node))) return;
            if (Refused.TryGetValue(node.OpType, out string? advice)) throw Unsupported(node, advice);
            if (!Operators.TryGetValue(node.OpType, out Handler? lower))
                throw Unsupported(node, $"{node.OpType} is not among the supported operators ({string.Join(", ", Supported)})");
            lower(this, node, name);
            Propagate(node);
        }

        /// <summary>A node's first output: the value most operators define.</summary>
        private string Output(OnnxNode node) => node.Outputs.Count > 0 ? node.Outputs[0] : throw Unsupported(node, "it has no output");

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
                c = AsFloats(c);
                if (c.Floats is null) throw Unsupported(node, "the constant operand must be numbers");
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
                Activation(node, output, kind, new[] { x, Parameter(node, other, new OnnxConstant(dims, values, null)) }, rank);
                return;
            }
            int left = Ranked(node, a, rank), right = Ranked(node, b, rank);
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

        /// <summary>A Linear layer: <paramref name="weight"/> [outputs, inputs], <paramref name="bias"/> any shape of one value per output.</summary>
        private void Linear(OnnxNode node, string output, string name, OnnxConstant weight, OnnxConstant? bias)
        {
            _weights.Add(new(name + ".weight", weight));
            if (bias is not null) _weights.Add(new(name + ".bias", bias.Reshaped(new[] { weight.Dims[0] })));
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
            string text = $"{node.OpType} '{(node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault(o => o.Length > 0) ?? "")}'";
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

        /// <summary>
        /// An activation as an operand of a broadcasting op of <paramref name="rank"/>. Compiled whole, ONNX aligns a
        /// lower-rank operand from the right, within the sample: it gets leading dimensions of 1 (views). With the batch
        /// first the ranks include it, and the shape rule refuses operands whose ranks differ.
        /// </summary>
        private int Ranked(OnnxNode node, string value, int rank)
        {
            int id = Act(node, value);
            if (!_whole) return id;
            for (int r = RankOf(value); r < rank; r++) id = Record(node, OpKind.Unsqueeze, new[] { id }, settings: new AxisSettings(0));
            return id;
        }

        /// <summary>An operand that may be a weight (a Parameter op) or an activation.</summary>
        private int Operand(OnnxNode node, string value)
        {
            if (!_constants.TryGetValue(value, out OnnxConstant? c)) return Act(node, value);
            c = AsFloats(c);
            if (c.Floats is null) throw Unsupported(node, $"constant '{value}' must be float32");
            return Parameter(node, value, c);
        }

        /// <summary>
        /// A constant made into a weight the graph reads as a value (a Parameter op): named <c>c{n}:{source}</c>, n the
        /// weights so far, so that two constants of one source never share a name.
        /// </summary>
        private int Parameter(OnnxNode node, string source, OnnxConstant value)
        {
            string weight = "c" + _weights.Count.ToString(CultureInfo.InvariantCulture) + ":" + source;
            _weights.Add(new(weight, value));
            return Record(node, OpKind.Parameter, Array.Empty<int>(), weight);
        }

        private int Act(OnnxNode node, string value) =>
            _activations.TryGetValue(value, out int id) ? id
            : throw Unsupported(node, _constants.ContainsKey(value) ? $"'{value}' is a constant where an activation is expected" : $"input '{value}' is not computed before it");

        private OnnxConstant Const(OnnxNode node, string value) =>
            _constants.TryGetValue(value, out OnnxConstant? c) ? c : throw Unsupported(node, $"'{value}' must be known at build time (an initializer, a Constant, or computed from them and from shapes)");

        /// <summary>An activation's shape without the batch, inferring the ops recorded since the last time one was asked for.</summary>
        private int[] SampleShape(OnnxNode node, string value) => SampleShape(Act(node, value));

        /// <summary>Op <paramref name="id"/>'s shape without the batch, inferring the ops recorded up to it.</summary>
        private int[] SampleShape(int id)
        {
            while (_nodes.Count <= id)
            {
                if (_header is null || _headerWeights != _weights.Count)
                {
                    _header = SafeTensorsHeader.Of(_weights.GroupBy(w => w.Key, StringComparer.Ordinal)
                        .Select(g => new SafeTensorEntry(g.Key, "F32", g.First().Value.Dims.Select(d => (int)d).ToArray(), 0, 0)));
                    _headerWeights = _weights.Count;
                }
                Node? inferred = ShapeInference.Infer(_ops[_nodes.Count], _nodes, _declaration!, _header, _diagnostics);
                if (inferred is null) throw new Stop { Fatal = true }; // the shape error is the diagnostic, and later shapes would only repeat it
                _nodes.Add(inferred);
            }
            return _nodes[id].Shape;
        }

        /// <summary>
        /// Conv and pool padding as one number per spatial axis (the same before and after). ONNX may pad the end less than
        /// the start (CNTK and TensorFlow exports do, for stride 2); when that yields the same output size as padding both
        /// sides alike, no window reads the difference, so it is the same computation. The same holds for ceil_mode.
        /// <c>auto_pad</c> SAME_UPPER, SAME_LOWER and VALID are turned into pads first, as ONNX defines them. Null when the
        /// pads give other outputs than even padding would.
        /// </summary>
        private int[]? Padding(OnnxNode node, string x, int[] kernel, int[] strides, int dilation)
        {
            int spatial = kernel.Length;
            (int[] begin, int[] end) = Pads(node, x, kernel, strides, Enumerable.Repeat(dilation, spatial).ToArray());
            int[] shape = SampleShape(node, x);
            for (int d = 0; d < spatial; d++)
            {
                long start = begin[d], finish = end[d];
                if (start == finish) continue;
                long size = shape[shape.Length - spatial + d];
                long reach = (long)dilation * (kernel[d] - 1) + 1;
                long span = size + start + finish - reach, same = size + 2 * start - reach;
                if (span < 0 || same < 0 || span / strides[d] != same / strides[d]) return null; // not the same outputs: a convolution by windows
            }
            return begin;
        }

        /// <summary>An ONNX axis (negative from the end) of a rank-<paramref name="rank"/> value, which must not be the batch's.</summary>
        private int SampleAxis(OnnxNode node, long axis, int rank)
        {
            long resolved = (axis < 0 ? axis + rank - Lead : axis) + Lead;
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

        /// <summary>
        /// The weights the ops read, as a safetensors file: a JSON header of F32 tensors, then their bytes.
        /// <paramref name="origins"/>: those whose floats lie in the model's files as they are (or transposed).
        /// </summary>
        private byte[] SafeTensorsImage(out Dictionary<string, OnnxOrigin> origins)
        {
            origins = new Dictionary<string, OnnxOrigin>(StringComparer.Ordinal);
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
                if (w.Value.Origin is { } origin && origin.Count == w.Value.Floats.Length) origins[w.Key] = origin;
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
            string name = node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault(o => o.Length > 0) ?? "";
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, _at,
                $"ONNX node '{name}' ({node.OpType}, domain '{(node.Domain.Length == 0 ? "ai.onnx" : node.Domain)}', opset {_model.DefaultOpset.ToString(CultureInfo.InvariantCulture)})", why));
            return new Stop();
        }

        /// <summary>MC0013 for a graph input or output (a valid file that asks for what a compiled model does not take): the whole file stops.</summary>
        private Stop Refuse(string what, string why)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, _at, what, why));
            return new Stop { Fatal = true };
        }

        private Stop Fail(string why)
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, _at, _file, why));
            return new Stop { Fatal = true };
        }
    }
}
