using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// Multi-head self-attention over each sample's rows, PyTorch's <c>nn.MultiheadAttention(d, heads,
    /// batch_first=True)</c> called as <c>attn(x, x, x)</c>, without a mask: reads <c>name.in_proj_weight</c>
    /// <c>[3d, d]</c>, <c>name.in_proj_bias</c>, <c>name.out_proj.weight</c> <c>[d, d]</c> and <c>name.out_proj.bias</c>.
    /// Samples are <c>[sequence, d]</c>.
    /// </summary>
    public Tensor MultiHeadAttention(string name, int heads)
    {
        if (Rank < 3) throw new InvalidOperationException($"MultiHeadAttention '{name}' needs samples of [sequence, d]; got {Format(Shape)}.");
        int d = _shape[^1];
        if (heads <= 0 || d % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, $"MultiHeadAttention '{name}': {d} features do not split into {heads} heads.");
        Tensor qkv = LinearNamed(name + ".in_proj_weight", name + ".in_proj_bias", name + ".in_proj");
        return qkv.AttentionCore(heads).LinearNamed(name + ".out_proj.weight", name + ".out_proj.bias", name + ".out_proj");
    }

    /// <summary>A Linear layer whose weight and bias have the given names (as PyTorch names MultiheadAttention's).</summary>
    private Tensor LinearNamed(string weightName, string biasName, string layer)
    {
        // Reuse Linear's checks and arithmetic through a view of the weights under Linear's naming.
        var renamed = new RenamedWeights(WeightSource!, layer, weightName, biasName);
        return new Tensor(_shape, _data, renamed, Quantization).Linear(layer).WithWeights(WeightSource);
    }

    /// <summary>softmax(q·kᵀ/√d)·v per head, on a <c>[…, sequence, 3·d]</c> tensor of queries, keys and values.</summary>
    private Tensor AttentionCore(int heads)
    {
        int model = _shape[^1] / 3, headSize = model / heads, sequence = _shape[^2];
        int samples = _data.Length / (sequence * 3 * model);
        var result = new float[samples * sequence * model];
        var scores = new double[sequence];
        for (int s = 0; s < samples; s++)
        {
            int sample = s * sequence * 3 * model;
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < sequence; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < sequence; j++)
                    {
                        double dot = 0;
                        for (int c = 0; c < headSize; c++)
                            dot += (double)_data[sample + i * 3 * model + h * headSize + c] * _data[sample + j * 3 * model + model + h * headSize + c];
                        scores[j] = dot / Math.Sqrt(headSize);
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < sequence; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                    for (int c = 0; c < headSize; c++)
                    {
                        double value = 0;
                        for (int j = 0; j < sequence; j++) value += scores[j] / sum * _data[sample + j * 3 * model + 2 * model + h * headSize + c];
                        result[(s * sequence + i) * model + h * headSize + c] = (float)value;
                    }
                }
            }
        }
        int[] shape = (int[])_shape.Clone();
        shape[^1] = model;
        return Create(shape, result);
    }

    private Tensor WithWeights(IWeightSource? weights) => new(_shape, _data, weights, Quantization);

    /// <summary>Presents <c>weightName</c>/<c>biasName</c> as <c>layer.weight</c>/<c>layer.bias</c>.</summary>
    private sealed class RenamedWeights : IWeightSource
    {
        private readonly IWeightSource _inner;
        private readonly string _layer, _weight, _bias;

        public RenamedWeights(IWeightSource inner, string layer, string weight, string bias)
        {
            _inner = inner; _layer = layer; _weight = weight; _bias = bias;
        }

        public System.Collections.Generic.IReadOnlyList<string> Names => _inner.Names;

        public bool TryGetTensor(string name, out Tensor tensor) =>
            _inner.TryGetTensor(name == _layer + ".weight" ? _weight : name == _layer + ".bias" ? _bias : name, out tensor);
    }
}
