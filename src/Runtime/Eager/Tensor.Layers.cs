using System;
using ModelCompiler.Kernels;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// A fully connected layer, PyTorch's <c>nn.Linear</c>: <c>y = x · Wᵀ + b</c> over the last dimension, with
    /// <c>W = <paramref name="name"/>.weight</c> of shape <c>[out, in]</c> and the optional bias
    /// <c><paramref name="name"/>.bias</c> of shape <c>[out]</c>. With <paramref name="transposed"/> the weight is stored
    /// <c>[in, out]</c> and <c>y = x · W + b</c>: GPT-2's <c>Conv1D</c> layers (<c>attn.c_attn</c>, <c>mlp.c_fc</c>, …),
    /// read as they are in the checkpoint; compiled, the transpose is taken when the weights are laid out.
    /// </summary>
    public Tensor Linear(string name, bool transposed = false)
    {
        Tensor weight = RequireWeight(name + ".weight");
        if (weight.Rank != 2)
            throw new InvalidOperationException($"Linear '{name}': {name}.weight must be {(transposed ? "[in, out]" : "[out, in]")} but is {Format(weight.Shape)}.");
        if (transposed)
            weight = new Tensor(new[] { weight._shape[1], weight._shape[0] }, Weights.SafeTensorsHeader.Transpose(weight._data, weight._shape[0], weight._shape[1]), null, null);
        int outFeatures = weight._shape[0], inFeatures = weight._shape[1];
        if (Rank == 0 || _shape[^1] != inFeatures)
            throw new InvalidOperationException($"Linear '{name}' expects {inFeatures} input features but gets {Format(Shape)}.");
        float[]? bias = null;
        if (WeightSource!.TryGetTensor(name + ".bias", out Tensor b))
        {
            if (b.Rank != 1 || b._shape[0] != outFeatures)
                throw new InvalidOperationException($"Linear '{name}': {name}.bias must be [{outFeatures}] but is {Format(b.Shape)}.");
            bias = b._data;
        }

        int rows = _data.Length / inFeatures;
        var result = new float[rows * outFeatures];
        Quantization mode = Quantization?.ModeFor(name) ?? ModelCompiler.Quantization.None;
        bool int4 = mode is ModelCompiler.Quantization.Int4 or ModelCompiler.Quantization.Int4Gptq;
        float[] weights = int4
            ? Quantization!.Int4Weights.TryGetValue(name, out float[]? rounded) && rounded.Length == weight._data.Length
                ? rounded // GPTQ's, chosen at build time
                : Int4Quantization.RoundTrip(weight._data, outFeatures, inFeatures) // float32 with q · s
            : weight._data;
        // A decoder's int4 layers also round the activations (to int8 per block of 32); elsewhere int4 is weight-only.
        bool roundActivations = int4 && Quantization!.Int4Activations;
        if (mode is ModelCompiler.Quantization.Int8 or ModelCompiler.Quantization.Int8Static)
        {
            float? range = null;
            if (mode == ModelCompiler.Quantization.Int8Static)
            {
                if (!Quantization!.InputRanges.TryGetValue(name, out float r))
                    throw new InvalidOperationException($"Linear '{name}': Int8Static needs its calibrated input range.");
                range = r;
            }
            LinearInt8(weight._data, bias, rows, inFeatures, outFeatures, result, range);
        }
        else for (int r = 0; r < rows; r++)
        {
            float[] x = _data;
            int at = r * inFeatures;
            if (roundActivations)
            {
                x = _data.AsSpan(at, inFeatures).ToArray();
                Kernels.Int4Activations.RoundTrip(x);
                at = 0;
            }
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = bias is null ? 0 : bias[o];
                for (int i = 0; i < inFeatures; i++) sum += (double)x[at + i] * weights[o * inFeatures + i];
                result[r * outFeatures + o] = (float)sum;
            }
        }
        int[] shape = (int[])_shape.Clone();
        shape[^1] = outFeatures;
        return Create(shape, result);
    }

    /// <summary>
    /// The int8 reference: weights quantized per output channel and each row of activations per row (or with the
    /// calibrated range, for Int8Static), by the shared rules in <see cref="Int8Quantization"/>; an exact integer
    /// dot product; then dequantization. The compiled int8 kernels must equal this bit for bit.
    /// </summary>
    private void LinearInt8(float[] weight, float[]? bias, int rows, int inFeatures, int outFeatures, float[] result, float? staticRange)
    {
        var scales = new float[outFeatures];
        sbyte[] codes = Int8Quantization.QuantizeWeights(weight, outFeatures, inFeatures, scales);
        var row = new sbyte[inFeatures];
        for (int r = 0; r < rows; r++)
        {
            float amax = 0f;
            for (int i = 0; i < inFeatures; i++) amax = MathF.Max(amax, MathF.Abs(_data[r * inFeatures + i]));
            if (staticRange is float calibrated) amax = calibrated;
            float rowScale = Int8Quantization.RowScale(amax, out float inverse);
            for (int i = 0; i < inFeatures; i++) row[i] = Int8Quantization.QuantizeActivation(_data[r * inFeatures + i], inverse);
            for (int o = 0; o < outFeatures; o++)
            {
                int sum = 0;
                for (int i = 0; i < inFeatures; i++) sum += row[i] * codes[o * inFeatures + i];
                result[r * outFeatures + o] = Int8Quantization.Dequantize(sum, rowScale, scales[o], bias is null ? 0f : bias[o]);
            }
        }
    }

    /// <summary>The weight tensor <paramref name="name"/> itself (no batch dimension), e.g. to scale by it: <c>x * x.Parameter("gamma")</c>.</summary>
    public Tensor Parameter(string name) => RequireWeight(name);

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;
}
