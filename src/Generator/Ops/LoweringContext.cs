using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>Places a tensor in the weights buffer in a layout (once per tensor, layout and fold) and says where.</summary>
internal delegate WeightBlob BlobMaker(WeightLayoutKind kind, string tensor, int floats, int n, int k, string? norm = null, float epsilon = 0f);

/// <summary>
/// What a kernel's lowering sees (<c>Passes/LowerToPlan</c> builds it for each fused group): the group and its root, where
/// every value lives (<see cref="Where"/>), how to place a weight (<see cref="Blob"/>), and what every kernel carries
/// (its sources, its epilogue, its output).
/// </summary>
internal sealed class LoweringContext
{
    public LoweringContext(int index, FusionGroup group, ModelGraph graph, ModelDeclaration model, Func<Node, Operand> where, BlobMaker blob,
        Func<string, float[]> readTensor)
    {
        Index = index;
        Group = group;
        Graph = graph;
        Model = model;
        Where = where;
        Blob = blob;
        ReadTensor = readTensor;
        Root = group.Root;
        Input = graph.Nodes[Root.Inputs[0]];
        Sources = new List<string>(SourcesOf(Root));
        foreach (Node e in group.Absorbed) Sources.AddRange(SourcesOf(e));
        Epilogue = group.Epilogue.Select(Step).ToList();
        After = Epilogue.Count == 0 ? "" : ", then " + string.Join(", then ", Epilogue.Select(Describe));
        Output = where(group.Result);
    }

    /// <summary>The kernel's index in the plan.</summary>
    public int Index { get; }
    public FusionGroup Group { get; }
    public ModelGraph Graph { get; }
    public ModelDeclaration Model { get; }

    /// <summary>Where a value lives: the input or output span, the arena, or the weights buffer.</summary>
    public Func<Node, Operand> Where { get; }
    public BlobMaker Blob { get; }

    /// <summary>A weight tensor's values (for build-time measurements such as the int8 weight error).</summary>
    public Func<string, float[]> ReadTensor { get; }

    /// <summary>The group's root op and its first input.</summary>
    public Node Root { get; }
    public Node Input { get; }

    /// <summary>The calls the kernel came from, <c>File.cs(line): text</c>.</summary>
    public List<string> Sources { get; }

    /// <summary>The fused element-wise steps, and the same as words for the kernel's title (", then …").</summary>
    public List<EpilogueStep> Epilogue { get; }
    public string After { get; }

    /// <summary>Where the kernel stores its result.</summary>
    public Operand Output { get; }

    /// <summary>The call a node came from, for the generated comments (none for an ONNX node without a location).</summary>
    public static IEnumerable<string> SourcesOf(Node node)
    {
        if (node.Source.Location is null) yield break;
        string file = System.IO.Path.GetFileName(node.Source.Location.FilePath);
        yield return $"{file}({node.Source.Location.Line}): {node.Source.Text}";
    }

    /// <summary>An epilogue step from an element-wise node (QuantizeLinear: its codes).</summary>
    public static EpilogueStep Step(Node node) => new(node.Kind, node.Source.Scalar)
    {
        Codes = node.Source.Settings as QuantizeCodes,
        Bias = node.Source.Settings is ShrinkSettings shrink ? shrink.Bias : 0f,
    };

    /// <summary>
    /// A per-sample shape and two operands' strides over it (each per sample first: a broadcast's two inputs, a strided
    /// copy's source and destination) with each run of dimensions that both walk as one merged into it (a dimension's
    /// stride is the next one's times its size, 0 and 0 included), and dimensions of 1 dropped: a residual Add of two
    /// [C, H, W] maps becomes one row of C·H·W, a [C, 1, 1] gate over [C, H, W] C rows of H·W, a slice of rows one block,
    /// so kernels run long vectorized rows instead of one call per short row.
    /// </summary>
    public static (int[] Shape, int[] AStrides, int[] BStrides) Collapse(int[] shape, int[] aStrides, int[] bStrides)
    {
        var dims = new System.Collections.Generic.List<(int Size, int A, int B)>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            (int size, int sa, int sb) = (shape[d], aStrides[d + 1], bStrides[d + 1]);
            if (dims.Count > 0)
            {
                (int Size, int A, int B) last = dims[dims.Count - 1];
                if ((long)sa * size == last.A && (long)sb * size == last.B)
                {
                    dims[dims.Count - 1] = (last.Size * size, sa, sb);
                    continue;
                }
            }
            dims.Add((size, sa, sb));
        }
        return (dims.Select(d => d.Size).ToArray(), new[] { aStrides[0] }.Concat(dims.Select(d => d.A)).ToArray(),
            new[] { bStrides[0] }.Concat(dims.Select(d => d.B)).ToArray());
    }

    /// <summary>Row-major strides of a node's per-sample shape.</summary>
    public static int[] DenseStrides(Node node) => ReferenceOps.DenseStrides(node.Shape);

    public static string Describe(Node n) => n.IsConstant ? $"\"{n.Source.Name}\" {Node.Format(n.Shape)}" : Node.Format(n.Shape);

    public static string Describe(EpilogueStep step) => step.Kind switch
    {
        OpKind.AddScalar => "+ " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.MulScalar => "× " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.LeakyRelu => "LeakyRelu(" + step.Scalar.ToString("R", CultureInfo.InvariantCulture) + ")",
        OpKind.ClampMin => "at least " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.ClampMax => "at most " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.GeluTanh => "Gelu (tanh)",
        OpKind.Elu => "Elu(" + step.Scalar.ToString("R", CultureInfo.InvariantCulture) + ")",
        OpKind.ThresholdedRelu => "ThresholdedRelu(" + step.Scalar.ToString("R", CultureInfo.InvariantCulture) + ")",
        OpKind.Shrink => "Shrink(lambd " + step.Scalar.ToString("R", CultureInfo.InvariantCulture) + ", bias " + step.Bias.ToString("R", CultureInfo.InvariantCulture) + ")",
        _ => step.Kind.ToString(),
    };

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s.Substring(1);
}
