// Compiled into both the runtime (LoraAdapter, which loads adapters at run time) and the generator (which merges one at
// build time): one reading of PEFT's files, so both accept exactly the same adapters.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace ModelCompiler.Weights;

/// <summary>One adapted Linear of a LoRA adapter: <c>ΔW = Scale · B · A</c>, A <c>[Rank, In]</c>, B <c>[Out, Rank]</c>.</summary>
internal sealed class LoraModule
{
    public LoraModule(string name, SafeTensorEntry a, SafeTensorEntry b, float scale)
    {
        Name = name; A = a; B = b; Scale = scale;
    }

    /// <summary>The module's name as PEFT saved it, less <c>base_model.model.</c> (e.g. <c>model.layers.0.self_attn.q_proj</c>).</summary>
    public string Name { get; }
    public SafeTensorEntry A { get; }
    public SafeTensorEntry B { get; }
    public float Scale { get; }
    public int Rank => A.Shape[0];
    public int In => A.Shape[1];
    public int Out => B.Shape[0];
}

/// <summary>
/// A LoRA adapter as Hugging Face's PEFT saves one (<c>save_pretrained</c>): <c>adapter_model.safetensors</c> with
/// <c>base_model.model.{module}.lora_A.weight</c> <c>[r, in]</c> and <c>….lora_B.weight</c> <c>[out, r]</c> per adapted
/// Linear, and <c>adapter_config.json</c> beside it with <c>r</c>, <c>lora_alpha</c> and <c>use_rslora</c>: each layer
/// computes <c>y = W x + s · B (A x)</c> with <c>s = lora_alpha / r</c> (<c>/ √r</c> with rsLoRA), r being the layer's
/// rank, as PEFT's <c>LoraLayer.update_layer</c> sets it. Adapters PEFT makes otherwise (DoRA, trained biases,
/// per-module alphas, embedding or convolution layers) are refused with the reason.
/// </summary>
internal sealed class LoraAdapterFile
{
    /// <summary>The configuration's file name, beside the adapter's weights.</summary>
    public const string ConfigFileName = "adapter_config.json";

    private const string Prefix = "base_model.model.";

    private LoraAdapterFile(List<LoraModule> modules, bool fanInFanOut)
    {
        Modules = modules;
        FanInFanOut = fanInFanOut;
    }

    /// <summary>The adapted layers, by name (ordinal).</summary>
    public IReadOnlyList<LoraModule> Modules { get; }

    /// <summary>PEFT's <c>fan_in_fan_out</c>: the base model stores these layers' weights <c>[in, out]</c> (GPT-2's Conv1D).</summary>
    public bool FanInFanOut { get; }

    /// <summary>Reads the configuration and pairs each layer's A and B; throws <see cref="SafeTensorsFormatException"/> saying what is wrong.</summary>
    public static LoraAdapterFile Parse(SafeTensorsHeader header, string configJson)
    {
        Dictionary<string, object?> config;
        try
        {
            config = new SafeTensorsHeader.JsonReader(configJson).ReadDocument() as Dictionary<string, object?>
                ?? throw new SafeTensorsFormatException("it is not a JSON object");
        }
        catch (SafeTensorsFormatException e)
        {
            throw new SafeTensorsFormatException($"{ConfigFileName} cannot be read: {e.Message}");
        }
        if (config.TryGetValue("peft_type", out object? type) && type is string t && t != "LORA")
            throw new SafeTensorsFormatException($"{ConfigFileName} describes a {t} adapter; ModelCompiler reads LoRA adapters");
        if (config.TryGetValue("use_dora", out object? dora) && dora is true)
            throw new SafeTensorsFormatException($"{ConfigFileName} describes a DoRA adapter (use_dora); ModelCompiler reads plain LoRA");
        if (config.TryGetValue("bias", out object? bias) && bias is string b && b != "none")
            throw new SafeTensorsFormatException($"{ConfigFileName} has bias \"{b}\": the adapter trained biases of the base model, which ModelCompiler does not merge");
        foreach (string pattern in new[] { "alpha_pattern", "rank_pattern" })
        {
            if (config.TryGetValue(pattern, out object? p) && p is Dictionary<string, object?> { Count: > 0 })
                throw new SafeTensorsFormatException($"{ConfigFileName} has a {pattern}; ModelCompiler reads adapters with one lora_alpha and r for every layer");
        }
        double alpha = Number(config, "lora_alpha");
        double r = Number(config, "r");
        if (!(alpha > 0) || double.IsInfinity(alpha) || !(r >= 1) || r != Math.Floor(r) || r > int.MaxValue)
            throw new SafeTensorsFormatException($"{ConfigFileName} has lora_alpha {alpha.ToString(CultureInfo.InvariantCulture)} and r {r.ToString(CultureInfo.InvariantCulture)}; both must be positive, r a whole number");
        bool rsLora = config.TryGetValue("use_rslora", out object? rs) && rs is true;
        bool fanInFanOut = config.TryGetValue("fan_in_fan_out", out object? f) && f is true;

        var a = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        var bs = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (SafeTensorEntry entry in header.Entries)
        {
            string name = entry.Name.StartsWith(Prefix, StringComparison.Ordinal) ? entry.Name.Substring(Prefix.Length) : entry.Name;
            if (name.EndsWith(".lora_A.weight", StringComparison.Ordinal)) a[name.Substring(0, name.Length - ".lora_A.weight".Length)] = entry;
            else if (name.EndsWith(".lora_B.weight", StringComparison.Ordinal)) bs[name.Substring(0, name.Length - ".lora_B.weight".Length)] = entry;
            else throw new SafeTensorsFormatException($"tensor '{entry.Name}' is not a Linear layer's lora_A or lora_B weight (ModelCompiler reads LoRA adapters of Linear layers only)");
            if (!SafeTensorsHeader.IsFloat(entry) || entry.Shape.Length != 2 || entry.Shape[0] == 0 || entry.Shape[1] == 0)
                throw new SafeTensorsFormatException($"tensor '{entry.Name}' must be a float matrix, but is {entry.DType} [{string.Join(", ", entry.Shape)}]");
        }
        var modules = new List<LoraModule>();
        foreach (KeyValuePair<string, SafeTensorEntry> pair in a)
        {
            if (!bs.TryGetValue(pair.Key, out SafeTensorEntry? bEntry))
                throw new SafeTensorsFormatException($"'{pair.Key}' has lora_A but no lora_B");
            int rank = pair.Value.Shape[0];
            if (bEntry.Shape[1] != rank)
                throw new SafeTensorsFormatException($"'{pair.Key}': lora_A is [{rank}, {pair.Value.Shape[1]}] and lora_B [{bEntry.Shape[0]}, {bEntry.Shape[1]}]; their ranks differ");
            // PEFT: scaling = lora_alpha / r, or lora_alpha / √r with rsLoRA (r: the layer's rank).
            modules.Add(new LoraModule(pair.Key, pair.Value, bEntry, (float)(rsLora ? alpha / Math.Sqrt(rank) : alpha / rank)));
        }
        foreach (string name in bs.Keys)
        {
            if (!a.ContainsKey(name)) throw new SafeTensorsFormatException($"'{name}' has lora_B but no lora_A");
        }
        if (modules.Count == 0) throw new SafeTensorsFormatException("it holds no lora_A/lora_B weights");
        modules.Sort((x, y) => string.CompareOrdinal(x.Name, y.Name));
        return new LoraAdapterFile(modules, fanInFanOut);
    }

    private static double Number(Dictionary<string, object?> config, string key) =>
        config.TryGetValue(key, out object? value) && value is long or double ? Convert.ToDouble(value, CultureInfo.InvariantCulture)
        : throw new SafeTensorsFormatException($"{ConfigFileName} has no number '{key}'");

    /// <summary>
    /// Whether adapter module <paramref name="module"/> adapts the Linear layer named <paramref name="layer"/>: the same
    /// name, or the layer's name as the module's last segments (a checkpoint saved without the model's outer prefix, such
    /// as GPT-2's <c>h.0.attn.c_attn</c> for PEFT's <c>transformer.h.0.attn.c_attn</c>).
    /// </summary>
    public static bool Adapts(string module, string layer) =>
        module == layer || module.Length > layer.Length && module.EndsWith(layer, StringComparison.Ordinal) && module[module.Length - layer.Length - 1] == '.';

    /// <summary>
    /// <c>W + s · B · A</c> for a layer's <c>[n, k]</c> weight (row-major, as a Linear reads it), in double per element
    /// and one rounding to float (PEFT's <c>merge</c> computes the product in the weights' precision and adds it).
    /// </summary>
    public static float[] Merge(float[] weight, float[] a, float[] b, int n, int k, int rank, float scale)
    {
        var merged = new float[weight.Length];
        var row = new double[k];
        for (int o = 0; o < n; o++)
        {
            Array.Clear(row, 0, k);
            for (int i = 0; i < rank; i++)
            {
                double bi = b[o * rank + i];
                if (bi == 0) continue;
                for (int j = 0; j < k; j++) row[j] += bi * a[i * k + j];
            }
            for (int j = 0; j < k; j++) merged[o * k + j] = (float)(weight[o * k + j] + scale * row[j]);
        }
        return merged;
    }
}
