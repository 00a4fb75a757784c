using System;
using System.Linq;

namespace ModelCompiler;

// Ops that move values without computing: transpose, permute, slice, split, concatenate. Dimensions are per sample
// (0 = the first after the batch) and may be negative, counting from the end (-1 = the last), as in PyTorch.
public sealed partial class Tensor
{
    /// <summary>Swaps two sample dimensions: PyTorch's <c>x.transpose(dim0 + 1, dim1 + 1)</c>, copied to a dense result.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = SampleAxis(dim0, nameof(dim0)), b = SampleAxis(dim1, nameof(dim1));
        var order = new int[Rank - 1];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        (order[a - 1], order[b - 1]) = (order[b - 1], order[a - 1]);
        return Permute(order);
    }

    /// <summary>
    /// Reorders the sample dimensions: result dimension i is input dimension <c>dims[i]</c> (PyTorch's
    /// <c>x.permute(0, dims… + 1)</c>), copied to a dense result.
    /// </summary>
    public Tensor Permute(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length != Rank - 1)
            throw new ArgumentException($"Permute: a sample of {Format(Shape[1..])} has {Rank - 1} dimensions, but {dims.Length} are given.", nameof(dims));
        var axes = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < dims.Length; i++)
        {
            axes[i + 1] = SampleAxis(dims[i], nameof(dims));
            if (seen[axes[i + 1]]) throw new ArgumentException($"Permute: dimension {dims[i]} appears twice in [{string.Join(", ", dims)}].", nameof(dims));
            seen[axes[i + 1]] = true;
        }
        int[] strides = ReferenceOps.DenseStrides(_shape);
        var shape = new int[Rank];
        var sourceStrides = new int[Rank];
        for (int d = 0; d < Rank; d++)
        {
            shape[d] = _shape[axes[d]];
            sourceStrides[d] = strides[axes[d]];
        }
        var result = new float[_data.Length];
        ReferenceOps.StridedCopy(_data, 0, sourceStrides, result, 0, ReferenceOps.DenseStrides(shape), shape);
        return Create(shape, result);
    }

    /// <summary>The values at <c>[start, end)</c> along a sample dimension (PyTorch's <c>x.narrow(dim + 1, start, end − start)</c>); negative bounds count from the end.</summary>
    public Tensor Slice(int dimension, int start, int end)
    {
        int axis = SampleAxis(dimension, nameof(dimension)), size = _shape[axis];
        if (start < 0) start += size;
        if (end < 0) end += size;
        if (start < 0 || end > size || start >= end)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: [{start}, {end}) is not a non-empty range within dimension {dimension} of size {size}.");
        int[] shape = (int[])_shape.Clone();
        shape[axis] = end - start;
        int[] strides = ReferenceOps.DenseStrides(_shape);
        var result = new float[ElementCount(shape)];
        ReferenceOps.StridedCopy(_data, start * strides[axis], strides, result, 0, ReferenceOps.DenseStrides(shape), shape);
        return Create(shape, result);
    }

    /// <summary>Splits a sample dimension into consecutive parts of the given sizes, which must add up to it (PyTorch's <c>torch.split(x, sizes, dim + 1)</c>).</summary>
    public Tensor[] Split(int dimension, params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int axis = SampleAxis(dimension, nameof(dimension)), total = 0;
        foreach (int size in sizes)
        {
            if (size <= 0) throw new ArgumentException($"Split: sizes must be positive; got [{string.Join(", ", sizes)}].", nameof(sizes));
            total += size;
        }
        if (total != _shape[axis])
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] add up to {total}, but dimension {dimension} has {_shape[axis]}.", nameof(sizes));
        var parts = new Tensor[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++) parts[i] = Slice(dimension, start, start + sizes[i]);
        return parts;
    }

    /// <summary>Joins <paramref name="other"/> after this tensor along a sample dimension; every other dimension must agree (PyTorch's <c>torch.cat((x, other), dim + 1)</c>).</summary>
    public Tensor Concat(Tensor other, int dimension)
    {
        ArgumentNullException.ThrowIfNull(other);
        int axis = SampleAxis(dimension, nameof(dimension));
        bool agree = other.Rank == Rank;
        for (int d = 0; agree && d < Rank; d++) agree = d == axis || other._shape[d] == _shape[d];
        if (!agree) throw new ArgumentException($"Concat: {Format(Shape)} and {Format(other.Shape)} differ outside dimension {dimension}.", nameof(other));
        int[] shape = (int[])_shape.Clone();
        shape[axis] += other._shape[axis];
        int[] strides = ReferenceOps.DenseStrides(shape);
        var result = new float[ElementCount(shape)];
        ReferenceOps.StridedCopy(_data, 0, ReferenceOps.DenseStrides(_shape), result, 0, strides, _shape);
        ReferenceOps.StridedCopy(other._data, 0, ReferenceOps.DenseStrides(other._shape), result, _shape[axis] * strides[axis], strides, other._shape);
        return Create(shape, result, other);
    }

    /// <summary>Inserts a dimension of size 1 at sample dimension <paramref name="dimension"/> (PyTorch's <c>x.unsqueeze(dim + 1)</c>; −1 appends). No copy.</summary>
    public Tensor Unsqueeze(int dimension)
    {
        int sampleRank = Rank - 1, d = dimension < 0 ? dimension + sampleRank + 1 : dimension;
        if (Rank == 0 || d < 0 || d > sampleRank)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"A sample of {Format(Rank == 0 ? Shape : Shape[1..])} takes a new dimension at 0 to {sampleRank}.");
        var shape = new int[Rank + 1];
        for (int i = 0, j = 0; i < shape.Length; i++) shape[i] = i == d + 1 ? 1 : _shape[j++];
        return Create(shape, _data);
    }

    /// <summary>Removes sample dimension <paramref name="dimension"/>, which must have size 1 (PyTorch's <c>x.squeeze(dim + 1)</c>). No copy.</summary>
    public Tensor Squeeze(int dimension)
    {
        int axis = SampleAxis(dimension, nameof(dimension));
        if (_shape[axis] != 1)
            throw new ArgumentException($"Squeeze: dimension {dimension} of a sample of {Format(Shape[1..])} has size {_shape[axis]}, not 1.", nameof(dimension));
        return Create(_shape.Where((_, i) => i != axis).ToArray(), _data);
    }

    /// <summary>The axis (batch = 0) of sample dimension <paramref name="dimension"/>, which may count from the end.</summary>
    private int SampleAxis(int dimension, string parameter)
    {
        int sampleRank = Rank - 1;
        int d = dimension < 0 ? dimension + sampleRank : dimension;
        if (sampleRank <= 0 || d < 0 || d >= sampleRank)
            throw new ArgumentOutOfRangeException(parameter, dimension, $"A sample of {Format(Rank == 0 ? Shape : Shape[1..])} has no dimension {dimension}.");
        return d + 1;
    }

    private static int ElementCount(int[] shape)
    {
        int count = 1;
        foreach (int d in shape) count *= d;
        return count;
    }
}
