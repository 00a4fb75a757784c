using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler;

/// <summary>
/// A LoRA adapter in PEFT's layout (<c>adapter_model.safetensors</c> and <c>adapter_config.json</c> beside it), loaded
/// at run time: switched on a compiled decoder's session (<see cref="DecoderSession.SetAdapter"/>), each adapted Linear
/// computing <c>y = W x + s · B (A x)</c> on the model's own (float32, int8 or int4) weights, so several adapters share
/// one base; or merged into a weight source for the eager reference (<see cref="Merge"/>). To merge one at build time
/// instead, name it in <c>CompileModelAttribute.Adapter</c>.
/// </summary>
public sealed class LoraAdapter
{
    private readonly Dictionary<string, (float[] A, float[] B, LoraModule Module)> _layers;

    private LoraAdapter(string path, LoraAdapterFile file, byte[] bytes, SafeTensorsHeader header)
    {
        Path = path;
        FanInFanOut = file.FanInFanOut;
        _layers = file.Modules.ToDictionary(m => m.Name, m => (header.ReadFloat32(bytes, m.A), header.ReadFloat32(bytes, m.B), m), StringComparer.Ordinal);
        Layers = file.Modules.Select(m => m.Name).ToArray();
    }

    /// <summary>The adapter's weights file.</summary>
    public string Path { get; }

    /// <summary>The adapted layers, as PEFT names their modules (less <c>base_model.model.</c>), sorted.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>PEFT's <c>fan_in_fan_out</c>: the base stores these layers' weights <c>[in, out]</c> (GPT-2's Conv1D).</summary>
    public bool FanInFanOut { get; }

    /// <summary>The rank of an adapted layer.</summary>
    public int RankOf(string layer) => Module(layer).Rank;

    /// <summary>The scale <c>s</c> of an adapted layer: <c>lora_alpha / r</c>, or <c>lora_alpha / √r</c> with rsLoRA.</summary>
    public float ScaleOf(string layer) => Module(layer).Scale;

    private LoraModule Module(string layer) =>
        _layers.TryGetValue(layer, out var l) ? l.Module : throw new KeyNotFoundException($"The adapter has no layer '{layer}'; it adapts {string.Join(", ", Layers)}.");

    /// <summary>
    /// Reads an adapter: <paramref name="path"/> is PEFT's <c>adapter_model.safetensors</c> or the folder holding it, with
    /// <c>adapter_config.json</c> beside it.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">The files are not a LoRA adapter ModelCompiler reads (the message says why).</exception>
    public static LoraAdapter Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full)) full = System.IO.Path.Combine(full, "adapter_model.safetensors");
        if (!File.Exists(full)) throw new FileNotFoundException($"The adapter's weights {full} were not found.", full);
        string config = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, LoraAdapterFile.ConfigFileName);
        if (!File.Exists(config)) throw new FileNotFoundException($"The adapter's configuration {config} was not found (PEFT saves it beside the weights).", config);
        byte[] bytes = File.ReadAllBytes(full);
        try
        {
            SafeTensorsHeader header = SafeTensorsHeader.Parse(bytes);
            return new LoraAdapter(full, LoraAdapterFile.Parse(header, File.ReadAllText(config, Encoding.UTF8)), bytes, header);
        }
        catch (SafeTensorsFormatException e)
        {
            throw new InvalidDataException($"{full} is not a LoRA adapter ModelCompiler reads: {e.Message}", e);
        }
    }

    /// <summary>
    /// <paramref name="weights"/> with this adapter merged in (<c>W + s · B · A</c> for each adapted layer's
    /// <c>.weight</c>, transposed for a <see cref="FanInFanOut"/> adapter): what PEFT's <c>merge_and_unload</c> gives, for
    /// the eager reference (<c>ForwardEager</c>). Every adapted layer must be in <paramref name="weights"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A layer of the adapter is not in <paramref name="weights"/>, or its shape differs.</exception>
    public IWeightSource Merge(IWeightSource weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var merged = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string layer, (float[] a, float[] b, LoraModule m)) in _layers)
        {
            string name = weights.Names.FirstOrDefault(n => n.EndsWith(".weight", StringComparison.Ordinal) && LoraAdapterFile.Adapts(layer, n.Substring(0, n.Length - ".weight".Length)))
                ?? throw new ArgumentException($"The adapter adapts '{layer}', which has no weight in these weights.", nameof(weights));
            weights.TryGetTensor(name, out Tensor w);
            int[] shape = w.Shape.ToArray();
            bool fits = shape.Length == 2 && (FanInFanOut ? shape[0] == m.In && shape[1] == m.Out : shape[0] == m.Out && shape[1] == m.In);
            if (!fits)
                throw new ArgumentException($"'{name}' is [{string.Join(", ", shape)}], but the adapter's '{layer}' is a layer from {m.In} to {m.Out}{(FanInFanOut ? " stored [in, out]" : "")}.", nameof(weights));
            float[] values = w.ToArray();
            if (FanInFanOut) values = SafeTensorsHeader.Transpose(values, m.In, m.Out);
            values = LoraAdapterFile.Merge(values, a, b, m.Out, m.In, m.Rank, m.Scale);
            if (FanInFanOut) values = SafeTensorsHeader.Transpose(values, m.Out, m.In);
            merged[name] = new Tensor(shape, values);
        }
        return new MergedWeights(weights, merged);
    }

    /// <summary>
    /// The adapter bound to a compiled model's Linear layers (in the model's order, with their input and output widths):
    /// null for a layer the adapter does not adapt.
    /// </summary>
    internal LoraLayer?[] Bind(IReadOnlyList<string> layers, IReadOnlyList<(int In, int Out)> shapes, string parameter)
    {
        var bound = new LoraLayer?[layers.Count];
        foreach ((string module, (float[] a, float[] b, LoraModule m)) in _layers)
        {
            int index = -1;
            for (int i = 0; i < layers.Count; i++)
            {
                if (!LoraAdapterFile.Adapts(module, layers[i])) continue;
                index = i;
                break;
            }
            if (index < 0)
                throw new ArgumentException($"The adapter adapts '{module}', which is not a Linear layer of the model; the nearest of its Linear layers are "
                    + string.Join(", ", NameSuggestions.Nearest(module, layers)) + ".", parameter);
            if (shapes[index].In != m.In || shapes[index].Out != m.Out)
                throw new ArgumentException($"The adapter's '{module}' goes from {m.In} to {m.Out} values, but the model's '{layers[index]}' from {shapes[index].In} to {shapes[index].Out}.", parameter);
            if (m.Rank > LoraLayer.MaxRank)
                throw new ArgumentException($"The adapter's '{module}' has rank {m.Rank}; compiled sessions take ranks up to {LoraLayer.MaxRank}.", parameter);
            bound[index] = new LoraLayer(a, b, m.Rank, m.In, m.Out, m.Scale);
        }
        return bound;
    }

    /// <summary>A weight source with some tensors replaced.</summary>
    private sealed class MergedWeights(IWeightSource inner, Dictionary<string, Tensor> merged) : IWeightSource
    {
        public IReadOnlyList<string> Names => inner.Names;

        public bool TryGetTensor(string name, out Tensor tensor) => merged.TryGetValue(name, out tensor!) || inner.TryGetTensor(name, out tensor);
    }
}
