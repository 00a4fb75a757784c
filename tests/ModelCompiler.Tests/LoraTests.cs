using System;
using System.IO;
using System.Linq;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// LoRA adapters in PEFT's layout (make_lora.py): merged at build time (<c>Adapter = "…"</c>) and switched at run time on
/// a session (<see cref="DecoderSession.SetAdapter"/>), each against PyTorch computing PEFT's <c>W x + s · B (A x)</c>,
/// and against each other.
/// </summary>
public sealed class LoraTests
{
    private static readonly SafeTensors Reference = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "lora.reference.safetensors"));
    private static readonly SafeTensors LlamaWeights = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "tiny_llama.safetensors"));
    private static readonly SafeTensors Gpt2Weights = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "tiny_gpt2.safetensors"));
    private static readonly int[] Tokens = Reference["tokens"].ToArray().Select(v => (int)v).ToArray();
    private const int Vocabulary = TinyLlama.OutputLength;

    private static LoraAdapter Adapter(string name) => LoraAdapter.Load(Path.Combine(Numerics.ModelsFolder, name));

    private static float[] Prefill(DecoderSession session)
    {
        var logits = new float[Tokens.Length * Vocabulary];
        session.Prefill(Tokens, logits);
        return logits;
    }

    private static float[] Eager(Func<IWeightSource, float[], int, Tensor> forward, IWeightSource weights) =>
        forward(weights, Tokens.Select(t => (float)t).ToArray(), Tokens.Length).ToArray();

    [Theory]
    [InlineData("a")]
    [InlineData("b")]
    public void An_adapter_switched_on_a_session_gives_the_logits_PyTorch_computes_with_it(string adapter)
    {
        DecoderSession session = TinyLlama.CreateSession(maxTokens: 64);

        session.SetAdapter(Adapter("lora_" + adapter));
        float[] adapted = Prefill(session);
        session.Reset();
        session.SetAdapter(null);
        float[] plain = Prefill(session);

        Assert.InRange(Numerics.RelativeError(adapted, Reference["logits_" + adapter].ToArray()), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(plain, Reference["logits_base"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Merged_at_build_time_equals_switched_at_run_time_equals_PyTorch()
    {
        DecoderSession switched = TinyLlama.CreateSession(maxTokens: 64);
        switched.SetAdapter(Adapter("lora_a"));

        float[] merged = Prefill(TinyLlamaLoraA.CreateSession(maxTokens: 64));
        float[] unmerged = Prefill(switched);
        float[] eager = Eager((w, x, b) => TinyLlamaLoraA.ForwardEager(w, x, b), Adapter("lora_a").Merge(LlamaWeights));

        float[] pytorch = Reference["logits_a"].ToArray();
        Assert.InRange(Numerics.RelativeError(merged, pytorch), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(unmerged, merged), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(eager, pytorch), 0, Numerics.Tolerance);
    }

    [Fact]
    public void A_merged_adapter_with_the_weights_read_from_the_file_embeds_the_merged_layers()
    {
        Assert.InRange(Numerics.RelativeError(Prefill(TinyLlamaLoraBFromFile.CreateSession(maxTokens: 64)), Reference["logits_b"].ToArray()), 0, Numerics.Tolerance);
        var e = Assert.Throws<NotSupportedException>(() => TinyLlamaLoraBFromFile.LoadWeights(Path.Combine(Numerics.ModelsFolder, "tiny_llama.safetensors")));
        Assert.Contains("a LoRA adapter was merged into its weights at build time", e.Message);
    }

    [Fact]
    public void An_adapter_is_merged_before_the_weights_are_rounded_to_int4()
    {
        // The eager reference rounds the merged weights to int4 as the compiled model does; rounding first and adding the
        // adapter after would differ by far more than the tolerance.
        float[] compiled = Prefill(TinyLlamaLoraBInt4.CreateSession(maxTokens: 64));
        float[] eager = Eager((w, x, b) => TinyLlamaLoraBInt4.ForwardEager(w, x, b), Adapter("lora_b").Merge(LlamaWeights));
        DecoderSession roundedFirst = TinyLlamaInt4.CreateSession(maxTokens: 64);
        roundedFirst.SetAdapter(Adapter("lora_b"));

        Assert.InRange(Numerics.RelativeError(compiled, eager), 0, Numerics.Tolerance);
        Assert.True(Numerics.RelativeError(Prefill(roundedFirst), eager) > 1e-3);
    }

    [Fact]
    public void An_adapter_switched_on_an_int4_base_moves_it_toward_the_adapted_model()
    {
        // QLoRA's deployment: the adapter in float32 over the 4-bit base.
        DecoderSession session = TinyLlamaInt4.CreateSession(maxTokens: 64);
        float[] plain = Prefill(session);
        session.Reset();
        session.SetAdapter(Adapter("lora_a"));
        float[] adapted = Prefill(session);

        float[] pytorch = Reference["logits_a"].ToArray();
        Assert.True(Numerics.RelativeError(adapted, pytorch) < 0.5 * Numerics.RelativeError(plain, pytorch),
            $"{Numerics.RelativeError(adapted, pytorch)} vs {Numerics.RelativeError(plain, pytorch)}");
    }

    [Fact]
    public void Sessions_with_different_adapters_share_one_base_and_run_at_once()
    {
        LoraAdapter a = Adapter("lora_a"), b = Adapter("lora_b");
        var results = new float[3][];

        System.Threading.Tasks.Parallel.For(0, 30, i =>
        {
            DecoderSession session = TinyLlama.CreateSession(maxTokens: 64);
            session.SetAdapter((i % 3) switch { 0 => a, 1 => b, _ => null });
            float[] logits = Prefill(session);
            lock (results) results[i % 3] ??= logits;
            Assert.Equal(results[i % 3], logits);
        });

        Assert.InRange(Numerics.RelativeError(results[0], Reference["logits_a"].ToArray()), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(results[1], Reference["logits_b"].ToArray()), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(results[2], Reference["logits_base"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void A_GPT2_adapter_of_Conv1D_layers_named_as_PEFT_names_them_matches_PyTorch_merged_and_switched()
    {
        LoraAdapter adapter = Adapter("lora_gpt2");
        DecoderSession switched = TinyGpt2.CreateSession(maxTokens: 64);
        switched.SetAdapter(adapter);

        float[] pytorch = Reference["logits_gpt2"].ToArray();
        Assert.True(adapter.FanInFanOut);
        Assert.Equal("transformer.h.0.attn.c_attn", adapter.Layers[0]);
        Assert.InRange(Numerics.RelativeError(Prefill(switched), pytorch), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(Prefill(TinyGpt2Lora.CreateSession(maxTokens: 64)), pytorch), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(Eager((w, x, b) => TinyGpt2Lora.ForwardEager(w, x, b), adapter.Merge(Gpt2Weights)), pytorch), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Decoding_token_by_token_with_an_adapter_equals_its_prefill()
    {
        DecoderSession session = TinyLlama.CreateSession(maxTokens: 64);
        session.SetAdapter(Adapter("lora_b"));
        var stepped = new float[Tokens.Length * Vocabulary];

        session.Prefill(Tokens.AsSpan(0, 1), stepped.AsSpan(0, Vocabulary));
        for (int i = 1; i < Tokens.Length; i++) session.Decode(Tokens[i], stepped.AsSpan(i * Vocabulary, Vocabulary));

        Assert.InRange(Numerics.RelativeError(stepped, Reference["logits_b"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void An_adapter_for_another_model_is_refused_naming_the_layer_and_the_session_is_unchanged()
    {
        DecoderSession session = TinyLlama.CreateSession(maxTokens: 64);
        LoraAdapter a = Adapter("lora_a");
        session.SetAdapter(a);

        var e = Assert.Throws<ArgumentException>(() => session.SetAdapter(Adapter("lora_gpt2")));

        Assert.Equal("adapter", e.ParamName);
        Assert.Contains("The adapter adapts 'transformer.h.0.attn.c_attn', which is not a Linear layer of the model", e.Message);
        Assert.Same(a, session.Adapter);
        Assert.EndsWith(Path.Combine("lora_a", "adapter_model.safetensors"), a.Path);
        Assert.InRange(Numerics.RelativeError(Prefill(session), Reference["logits_a"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Loading_reads_the_scale_from_the_configuration_and_refuses_what_PEFT_makes_otherwise()
    {
        LoraAdapter a = Adapter("lora_a"), b = Adapter("lora_b");
        string folder = GeneratorHarness.TempFolder();
        File.Copy(Path.Combine(Numerics.ModelsFolder, "lora_a", "adapter_model.safetensors"), Path.Combine(folder, "adapter_model.safetensors"));
        string config = File.ReadAllText(Path.Combine(Numerics.ModelsFolder, "lora_a", "adapter_config.json"));

        Assert.Equal(2f, a.ScaleOf("model.layers.0.self_attn.q_proj"));              // lora_alpha 8 / r 4
        Assert.Equal(16f / MathF.Sqrt(8), b.ScaleOf("model.layers.1.mlp.down_proj"));  // rsLoRA: 16 / √8
        Assert.Equal(4, a.RankOf("model.layers.1.self_attn.v_proj"));
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), config.Replace("\"use_dora\": false", "\"use_dora\": true", StringComparison.Ordinal));
        Assert.Contains("DoRA", Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), config.Replace("\"lora_alpha\": 8", "\"lora_alpha\": -8", StringComparison.Ordinal));
        Assert.Contains("both must be positive", Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), "{\"r\": 4, \"lora_alpha\": [[[[");
        Assert.Contains("adapter_config.json cannot be read", Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(folder)).Message);
        File.Delete(Path.Combine(folder, "adapter_config.json"));
        Assert.Throws<FileNotFoundException>(() => LoraAdapter.Load(folder));
    }
}
