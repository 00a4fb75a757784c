using ModelCompiler.Generator.Parsing;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Graph;

/// <summary>
/// A node of the graph IR: an op with its inputs and its inferred static shape per sample (no batch
/// dimension). Lives only inside one pipeline step, so it may hold references; what leaves the step is a plan.
/// </summary>
internal sealed class Node
{
    public Node(DslOp source, int[] shape, bool isConstant)
    {
        Source = source;
        Shape = shape;
        IsConstant = isConstant;
    }

    public DslOp Source { get; }
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

    public int ElementCount
    {
        get
        {
            int n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    public static string Format(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
