using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// ONNX LSTM, GRU and RNN (tests/ModelCompiler.TestModels/make_recurrent.py) against ONNX Runtime: the sequence-first
/// file (layout 0, its batch fixed with Dims, compiled whole) directly, and the batch-first file (layout 1, the same
/// weights, compiled batched) through the sequence-first one's outputs, transposed, since ONNX Runtime's CPU kernels
/// refuse layout 1. The conformance suite covers the same operators with their weights as model inputs.
/// </summary>
public class OnnxRecurrentTests
{
    private const int Steps = 7, Features = 5, Hidden = 4;

    private static readonly string[] Outputs = { "lstm_y", "lstm_h", "lstm_c", "gru_h", "gru_y", "rnn_h" };

    /// <summary>ONNX Runtime on the sequence-first file: x [steps, n, features], h0 and c0 [2, n, hidden]; the outputs by name.</summary>
    private static Dictionary<string, (float[] Values, int[] Shape)> Reference(float[] x, float[] h0, float[] c0, int n)
    {
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_recurrent_seq.onnx"));
        using var results = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { Steps, n, Features })),
            NamedOnnxValue.CreateFromTensor("h0", new DenseTensor<float>(h0, new[] { 2, n, Hidden })),
            NamedOnnxValue.CreateFromTensor("c0", new DenseTensor<float>(c0, new[] { 2, n, Hidden })),
        });
        return results.ToDictionary(r => r.Name, r =>
        {
            var tensor = r.AsTensor<float>();
            return (tensor.ToArray(), tensor.Dimensions.ToArray());
        });
    }

    /// <summary>A dense tensor's values in the order of its dimensions permuted by <paramref name="order"/> (numpy's transpose).</summary>
    private static float[] Permuted(float[] values, int[] shape, int[] order)
    {
        int rank = shape.Length;
        var strides = new int[rank];
        for (int d = rank - 1, s = 1; d >= 0; s *= shape[d], d--) strides[d] = s;
        int[] outShape = order.Select(o => shape[o]).ToArray();
        var result = new float[values.Length];
        var index = new int[rank];
        for (int i = 0; i < values.Length; i++)
        {
            int source = 0;
            for (int d = 0; d < rank; d++) source += index[d] * strides[order[d]];
            result[i] = values[source];
            for (int d = rank - 1; d >= 0 && ++index[d] == outShape[d]; d--) index[d] = 0;
        }
        return result;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(9)]
    public void Batch_first_recurrent_operators_match_ONNX_Runtime(int batch)
    {
        float[] x = Numerics.Random(batch * Steps * Features, seed: batch);
        float[] h0 = Numerics.Random(batch * 2 * Hidden, seed: batch + 1, scale: 0.5);
        float[] c0 = Numerics.Random(batch * 2 * Hidden, seed: batch + 2, scale: 0.5);
        int[] lengths = { OnnxRecurrent.LstmYLength, OnnxRecurrent.LstmHLength, OnnxRecurrent.LstmCLength, OnnxRecurrent.GruHLength, OnnxRecurrent.GruYLength, OnnxRecurrent.RnnHLength };
        float[][] actual = lengths.Select(l => new float[batch * l]).ToArray();
        OnnxRecurrent.Predict(x, h0, c0, actual[0], actual[1], actual[2], actual[3], actual[4], actual[5], batch);

        Assert.Equal(new[] { "x", "h0", "c0" }, OnnxRecurrent.InputNames);
        Assert.Equal(Outputs, OnnxRecurrent.OutputNames);
        Assert.Equal(new[] { Steps, 2, Hidden }, OnnxRecurrent.LstmYShape.ToArray());
        var expected = Reference(Permuted(x, new[] { batch, Steps, Features }, new[] { 1, 0, 2 }),
            Permuted(h0, new[] { batch, 2, Hidden }, new[] { 1, 0, 2 }), Permuted(c0, new[] { batch, 2, Hidden }, new[] { 1, 0, 2 }), batch);
        for (int o = 0; o < Outputs.Length; o++)
        {
            (float[] values, int[] shape) = expected[Outputs[o]];
            // Y [steps, directions, n, hidden] → [n, steps, directions, hidden]; Y_h [directions, n, hidden] → [n, directions, hidden].
            float[] batchFirst = shape.Length == 4 ? Permuted(values, shape, new[] { 2, 0, 1, 3 }) : Permuted(values, shape, new[] { 1, 0, 2 });
            Assert.Equal(batchFirst.Length, actual[o].Length);
            Assert.InRange(Numerics.RelativeError(actual[o], batchFirst), 0, Numerics.Tolerance);
        }
    }

    [Fact]
    public void Sequence_first_recurrent_operators_compiled_whole_match_ONNX_Runtime()
    {
        const int n = 3, sets = 2; // N is fixed to 3 by Dims; each call's batch counts sets of inputs
        Assert.Equal(new[] { Steps, n, Features }, OnnxRecurrentSequenceFirst.XShape.ToArray());
        float[] x = Numerics.Random(sets * Steps * n * Features, seed: 5);
        float[] h0 = Numerics.Random(sets * 2 * n * Hidden, seed: 6, scale: 0.5);
        float[] c0 = Numerics.Random(sets * 2 * n * Hidden, seed: 7, scale: 0.5);
        int[] lengths =
        {
            OnnxRecurrentSequenceFirst.LstmYLength, OnnxRecurrentSequenceFirst.LstmHLength, OnnxRecurrentSequenceFirst.LstmCLength,
            OnnxRecurrentSequenceFirst.GruHLength, OnnxRecurrentSequenceFirst.GruYLength, OnnxRecurrentSequenceFirst.RnnHLength,
        };
        float[][] actual = lengths.Select(l => new float[sets * l]).ToArray();
        OnnxRecurrentSequenceFirst.Predict(x, h0, c0, actual[0], actual[1], actual[2], actual[3], actual[4], actual[5], sets);
        for (int s = 0; s < sets; s++)
        {
            int xl = Steps * n * Features, hl = 2 * n * Hidden;
            var expected = Reference(x[(s * xl)..((s + 1) * xl)], h0[(s * hl)..((s + 1) * hl)], c0[(s * hl)..((s + 1) * hl)], n);
            for (int o = 0; o < Outputs.Length; o++)
            {
                int length = lengths[o];
                float[] values = expected[Outputs[o]].Values;
                Assert.Equal(values.Length, length);
                Assert.InRange(Numerics.RelativeError(actual[o].AsSpan(s * length, length), values), 0, Numerics.Tolerance);
            }
        }
    }
}
