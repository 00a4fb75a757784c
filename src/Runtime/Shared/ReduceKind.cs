// Compiled into both the runtime (Sequence.Reduce reads it) and the generator (which plans it and prints it into
// generated code): what a reduction over one axis computes, named as ONNX's Reduce* operators.
namespace ModelCompiler.Kernels;

/// <summary>What <c>Sequence.Reduce</c> computes over the reduced axis (ONNX's <c>Reduce*</c> operators, one axis at a time).</summary>
public enum ReduceKind
{
    /// <summary>The mean (ReduceMean; the C# <c>Tensor.Mean</c>).</summary>
    Mean,

    /// <summary>The sum (ReduceSum).</summary>
    Sum,

    /// <summary>The largest value (ReduceMax).</summary>
    Max,

    /// <summary>The smallest value (ReduceMin).</summary>
    Min,

    /// <summary>The product (ReduceProd).</summary>
    Prod,

    /// <summary>The sum of squares (ReduceSumSquare).</summary>
    SumSquare,

    /// <summary>The sum of absolute values (ReduceL1).</summary>
    L1,

    /// <summary>The square root of the sum of squares (ReduceL2).</summary>
    L2,

    /// <summary>The logarithm of the sum (ReduceLogSum).</summary>
    LogSum,

    /// <summary>The logarithm of the sum of exponentials, computed from the largest value (ReduceLogSumExp).</summary>
    LogSumExp,
}
