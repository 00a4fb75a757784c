using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>Flattens each sample to a vector: <c>[batch, a, b, …] → [batch, a·b·…]</c> (PyTorch's <c>flatten(x, 1)</c>).</summary>
    public Tensor Flatten()
    {
        if (Rank == 0) throw new InvalidOperationException("Flatten needs a batch dimension.");
        return Create(new[] { _shape[0], _data.Length / Math.Max(1, _shape[0]) }, _data);
    }

    /// <summary>
    /// Gives each sample a new shape (the batch dimension is kept); one dimension may be -1 and is then
    /// inferred. The values are shared, not copied.
    /// </summary>
    public Tensor Reshape(params int[] sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (Rank == 0) throw new InvalidOperationException("Reshape needs a batch dimension.");
        int perSample = _data.Length / Math.Max(1, _shape[0]);
        int known = 1, inferred = -1;
        for (int i = 0; i < sampleShape.Length; i++)
        {
            if (sampleShape[i] == -1 && inferred < 0) inferred = i;
            else if (sampleShape[i] <= 0) throw new ArgumentException($"Reshape: dimension {i} is {sampleShape[i]}.", nameof(sampleShape));
            else known *= sampleShape[i];
        }
        var shape = new int[sampleShape.Length + 1];
        shape[0] = _shape[0];
        sampleShape.CopyTo(shape, 1);
        if (inferred >= 0) shape[inferred + 1] = known == 0 ? 0 : perSample / known;
        long count = 1;
        for (int i = 1; i < shape.Length; i++) count *= shape[i];
        if (count != perSample)
            throw new ArgumentException($"Reshape: a sample of {Format(Shape[1..])} has {perSample} values, [{string.Join(", ", sampleShape)}] has {count}.", nameof(sampleShape));
        return Create(shape, _data);
    }
}
