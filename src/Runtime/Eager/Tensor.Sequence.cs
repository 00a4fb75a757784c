using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// Looks each value up as a row of <c>name.weight</c> <c>[count, d]</c> (PyTorch's <c>nn.Embedding</c>): the values
    /// are token ids, whole numbers in <c>[0, count)</c>; each becomes a vector of d values. <c>[…] → […, d]</c>.
    /// </summary>
    public Tensor Embedding(string name)
    {
        Tensor table = RequireWeight(name + ".weight");
        if (table.Rank != 2) throw new InvalidOperationException($"Embedding '{name}': {name}.weight must be [count, d] but is {Format(table.Shape)}.");
        int count = table._shape[0], width = table._shape[1];
        var result = new float[_data.Length * width];
        for (int i = 0; i < _data.Length; i++)
        {
            float id = _data[i];
            if (!(id >= 0 && id < count) || id != MathF.Floor(id))
                throw new ArgumentOutOfRangeException("input", id, $"Embedding '{name}': token ids must be whole numbers in [0, {count}).");
            Array.Copy(table._data, (int)id * width, result, i * width, width);
        }
        int[] shape = new int[Rank + 1];
        _shape.CopyTo(shape, 0);
        shape[^1] = width;
        return Create(shape, result);
    }

    /// <summary>The mean over sample dimension <paramref name="dimension"/> (0 = the first after the batch), which is removed: PyTorch's <c>x.mean(dim + 1)</c>.</summary>
    public Tensor Mean(int dimension = 0)
    {
        int axis = dimension + 1;
        if (dimension < 0 || axis >= Rank) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"A sample of {Format(Shape)} has no dimension {dimension}.");
        int outer = 1, inner = 1, reduce = _shape[axis];
        for (int d = 0; d < axis; d++) outer *= _shape[d];
        for (int d = axis + 1; d < Rank; d++) inner *= _shape[d];
        var result = new float[outer * inner];
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            double sum = 0;
            for (int r = 0; r < reduce; r++) sum += _data[(o * reduce + r) * inner + i];
            result[o * inner + i] = (float)(sum / reduce);
        }
        int[] shape = new int[Rank - 1];
        for (int d = 0, j = 0; d < Rank; d++) if (d != axis) shape[j++] = _shape[d];
        return Create(shape, result);
    }
}
