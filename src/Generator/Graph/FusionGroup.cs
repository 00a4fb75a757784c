using System.Collections.Generic;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Graph;

/// <summary>A set of nodes computed by one kernel: a root op and the element-wise ops fused after it.</summary>
internal sealed class FusionGroup
{
    public FusionGroup(KernelKind kind, Node root)
    {
        Kind = kind;
        Root = root;
        Result = root;
    }

    public KernelKind Kind { get; }
    public Node Root { get; }

    /// <summary>Element-wise ops applied, in order, to the root's result before it is stored.</summary>
    public List<Node> Epilogue { get; } = new();

    /// <summary>Every node absorbed after the root, in order (epilogue steps and folded BatchNorms).</summary>
    public List<Node> Absorbed { get; } = new();

    /// <summary>LayerNorm: the residual Add of two activations before it, computed in the same pass.</summary>
    public Node? Residual { get; set; }

    /// <summary>
    /// A broadcasting Mul whose product is added back to its full-sized operand, x + x · g (PP-OCR's residual
    /// squeeze-excitation): that Add, computed in the same pass (<c>BinaryFunction.ScaleResidual</c>).
    /// </summary>
    public Node? ScaledResidual { get; set; }

    /// <summary>
    /// Convolutions: an Add of the layer's value (bias and folded BatchNorm in it, no epilogue before the Add) and another
    /// activation of the same shape that an earlier kernel computed (a ResNet or MobileNet block's skip connection),
    /// computed in the store: <c>epilogue((conv + bias) + other)</c>, the epilogue being what follows the Add.
    /// </summary>
    public Node? SkipAdd { get; set; }

    /// <summary>The value <see cref="SkipAdd"/> adds to the convolution's: its operand that is not the layer's value.</summary>
    public int SkipOperand { get; set; } = -1;

    /// <summary>
    /// BatchNorm: the Add of a per-channel constant just before it (a transposed convolution's bias), computed in the same
    /// pass: (x + b[c]) · scale[c] + shift[c].
    /// </summary>
    public Node? ChannelBias { get; set; }

    /// <summary>Strided copies: the layout ops (and the views between them) composed into this one, first to last.</summary>
    public List<Node> Composed { get; } = new();

    /// <summary>
    /// The values the kernel reads: the channel bias's or the residual Add's operands, the first composed layout op's input,
    /// else the root's inputs (and a skip connection's other operand).
    /// </summary>
    public int[] Reads => ChannelBias?.Inputs ?? Residual?.Inputs ?? (Composed.Count > 0 ? Composed[0].Inputs
        : SkipAdd is null ? Root.Inputs : [.. Root.Inputs, SkipOperand]);

    /// <summary>Direct convolutions: a 2×2, stride-2 max pool after the epilogue, computed in the kernel's store.</summary>
    public Node? Pool { get; set; }

    /// <summary>The node whose value the kernel stores: the root, or the last node absorbed after it.</summary>
    public Node Result { get; set; } = null!;
}
