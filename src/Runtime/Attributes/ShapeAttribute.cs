using System;

namespace ModelCompiler;

/// <summary>
/// Gives a model input its static shape per sample, without the batch dimension:
/// <c>[Shape(64)] Tensor pixels</c> is a vector of 64 values, <c>[Shape(8, 8)]</c> an 8×8 matrix.
/// The batch dimension is implicit and leading.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    /// <summary>Creates the attribute with the dimensions of one sample.</summary>
    public ShapeAttribute(params int[] dimensions) => Dimensions = dimensions;

    /// <summary>The dimensions of one sample.</summary>
    public int[] Dimensions { get; }
}
