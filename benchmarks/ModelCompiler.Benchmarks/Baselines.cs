using System;
using System.Linq;
using System.Collections.Generic;
using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace ModelCompiler.Benchmarks;

/// <summary>
/// What a .NET developer would write by hand with System.Numerics.Tensors: one <c>TensorPrimitives.Dot</c>
/// per output neuron, then the activation over the layer's output.
/// </summary>
public sealed class TensorPrimitivesMlp
{
    private readonly (float[] Weight, float[] Bias, int In, int Out)[] _layers;
    private readonly float[][] _scratch;
    private readonly bool _softmax;

    public TensorPrimitivesMlp(SafeTensors weights, string[] layers, bool softmax)
    {
        _layers = Array.ConvertAll(layers, name =>
        {
            Tensor w = weights[name + ".weight"];
            return (w.ToArray(), weights[name + ".bias"].ToArray(), w.Shape[1], w.Shape[0]);
        });
        _scratch = Array.ConvertAll(_layers, l => new float[l.Out]);
        _softmax = softmax;
    }

    public void Predict(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        int inLength = _layers[0].In, outLength = _layers[^1].Out;
        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * inLength, inLength);
            for (int l = 0; l < _layers.Length; l++)
            {
                var (weight, bias, inputs, outputs) = _layers[l];
                Span<float> y = l == _layers.Length - 1 ? output.Slice(r * outLength, outLength) : _scratch[l];
                for (int j = 0; j < outputs; j++)
                    y[j] = TensorPrimitives.Dot(x, weight.AsSpan(j * inputs, inputs)) + bias[j];
                if (l < _layers.Length - 1) TensorPrimitives.Max(y, 0f, y);
                else if (_softmax) TensorPrimitives.SoftMax(y, y);
                x = y;
            }
        }
    }
}

/// <summary>ONNX Runtime on <c>threads</c> intra-op threads (no spinning), with the input and output bound once (IOBinding), so a call is just the run.</summary>
public sealed class OnnxRuntimeModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly List<IDisposable> _owned = new();

    public OnnxRuntimeModel(string path, float[] input, float[] output, int batch, int inLength, int outLength, long[]? inputShape = null, long[]? outputShape = null, int threads = 1)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(path, options);
        var x = OrtValue.CreateTensorValueFromMemory(input, inputShape ?? new long[] { batch, inLength });
        var y = OrtValue.CreateTensorValueFromMemory(output, outputShape ?? new long[] { batch, outLength });
        _owned.Add(x);
        _owned.Add(y);
        _binding = _session.CreateIoBinding();
        // The file's own names (ours export "input" and "output"; third-party files name them otherwise).
        _binding.BindInput(_session.InputMetadata.Keys.Single(), x);
        _binding.BindOutput(_session.OutputMetadata.Keys.Single(), y);
    }

    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        foreach (IDisposable d in _owned) d.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
