using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Graph;

/// <summary>
/// A node of the graph IR: an op with its inputs and its inferred static shape per sample (no batch
/// dimension). Lives only inside one pipeline step, so it may hold references; what leaves the step is a plan.
/// </summary>
internal sealed class Node
{
    public Node(RecordedOp source, int[] shape, bool isConstant)
    {
        Source = source;
        Shape = shape;
        IsConstant = isConstant;
    }

    public RecordedOp Source { get; }
    public int Id => Source.Id;
    public OpKind Kind => Source.Kind;
    public int[] Inputs => Source.Inputs.ToArray();

    /// <summary>Dimensions of one sample (for a constant: of the whole tensor).</summary>
    public int[] Shape { get; }

    /// <summary>A weight tensor (Parameter): no batch dimension, lives in the weights buffer.</summary>
    public bool IsConstant { get; }

    /// <summary>Linear: the [out, in] weight; Parameter: the tensor.</summary>
    public SafeTensorEntry? Weight { get; set; }

    /// <summary>Linear: the optional [out] bias.</summary>
    public SafeTensorEntry? Bias { get; set; }

    /// <summary>A constant computed from weight tensors at build time (Passes/FoldConstants): its values, row-major.</summary>
    public float[]? Values { get; set; }

    /// <summary>Linear/Conv2d: a BatchNorm folded into this layer's weights and bias at build time, and its epsilon.</summary>
    public string? FoldedNorm { get; set; }
    public float FoldedEpsilon { get; set; }

    /// <summary>BatchNorm: folded into the layer before it, so it computes nothing (its value is that layer's).</summary>
    public bool Folded { get; set; }

    /// <summary>
    /// The op's settings with its dimensions resolved by shape inference (none negative): Transpose and Permute, the
    /// whole permutation (<see cref="PermuteSettings"/>); Slice, the dimension and the bounds within it; Concat, the dimension.
    /// </summary>
    public OpSettings? Resolved { get; set; }

    /// <summary>Values per sample (for a constant: in the tensor); shape inference refuses a node past SizeMath.MaxElements.</summary>
    public int ElementCount
    {
        get
        {
            int n = 1;
            foreach (int d in Shape) n = checked(n * d);
            return n;
        }
    }

    public static string Format(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
