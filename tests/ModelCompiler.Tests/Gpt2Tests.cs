using System;
using System.IO;
using System.Linq;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// A GPT-2 (TinyGpt2, make_gpt2.py): learned positions, Conv1D weights read transposed, the tanh GELU, a fused q/k/v
/// projection split in three, lm_head tied to wte, against PyTorch and against the eager reference.
/// </summary>
public sealed class Gpt2Tests
{
    private static readonly SafeTensors Reference = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "tiny_gpt2.reference.safetensors"));
    private static readonly SafeTensors Weights = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "tiny_gpt2.safetensors"));
    private const int Vocabulary = TinyGpt2.OutputLength;

    private static int[] Ids(string name) => Reference[name].ToArray().Select(v => (int)v).ToArray();

    private static int[] Sequence(int length) => Enumerable.Range(0, length).Select(i => (i * 37 + 11) % Vocabulary).ToArray();

    [Fact]
    public void Prefill_gives_the_logits_PyTorch_computes_after_every_token()
    {
        int[] tokens = Ids("tokens");
        var logits = new float[tokens.Length * Vocabulary];
        DecoderSession session = TinyGpt2.CreateSession(maxTokens: 64);

        session.Prefill(tokens, logits);

        Assert.InRange(Numerics.RelativeError(logits, Reference["logits"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void The_eager_reference_gives_the_logits_PyTorch_computes()
    {
        int[] tokens = Ids("tokens");

        float[] eager = TinyGpt2.ForwardEager(Weights, tokens.Select(t => (float)t).ToArray(), tokens.Length).ToArray();

        Assert.InRange(Numerics.RelativeError(eager, Reference["logits"].ToArray()), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Greedy_generation_is_token_identical_to_PyTorch_for_220_tokens()
    {
        DecoderSession session = TinyGpt2.CreateSession(maxTokens: 256);

        int[] generated = session.Generate(Ids("prompt"), 220, Sampler.Greedy).ToArray();

        Assert.Equal(Ids("greedy"), generated);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(100)]
    public void Prefill_then_decode_equals_the_eager_full_sequence_at_every_cache_length(int prompt)
    {
        // 150 tokens cross the compiled chunk of 64 rows inside one prefill and between prefill and decode.
        int[] tokens = Sequence(150);
        float[] expected = TinyGpt2.ForwardEager(Weights, tokens.Select(t => (float)t).ToArray(), tokens.Length).ToArray();
        DecoderSession session = TinyGpt2.CreateSession(maxTokens: 150);
        var actual = new float[tokens.Length * Vocabulary];

        session.Prefill(tokens.AsSpan(0, prompt), actual.AsSpan(0, prompt * Vocabulary));
        for (int i = prompt; i < tokens.Length; i++) session.Decode(tokens[i], actual.AsSpan(i * Vocabulary, Vocabulary));

        for (int i = 0; i < tokens.Length; i++)
            Assert.True(Numerics.RelativeError(actual.AsSpan(i * Vocabulary, Vocabulary), expected.AsSpan(i * Vocabulary, Vocabulary)) <= Numerics.Tolerance,
                $"logits after token {i}");
    }

    [Fact]
    public void The_whole_context_of_learned_positions_is_usable_and_no_more()
    {
        int[] tokens = Sequence(TinyGpt2.MaxPositions);
        float[] expected = TinyGpt2.ForwardEager(Weights, tokens.Select(t => (float)t).ToArray(), tokens.Length).ToArray();
        DecoderSession session = TinyGpt2.CreateSession(maxTokens: TinyGpt2.MaxPositions);
        var last = new float[Vocabulary];

        session.Prefill(tokens, last);

        Assert.Equal(256, TinyGpt2.MaxPositions);
        Assert.Equal(256, TinyGpt2.DefaultMaxTokens);
        Assert.True(Numerics.RelativeError(last, expected.AsSpan((tokens.Length - 1) * Vocabulary)) <= Numerics.Tolerance);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TinyGpt2.CreateSession(maxTokens: TinyGpt2.MaxPositions + 1));
        Assert.Equal("maxTokens", error.ParamName);
        Assert.Throws<ArgumentException>(() => TinyGpt2.ForwardEager(Weights, Sequence(257).Select(t => (float)t).ToArray(), 257));
    }

    [Fact]
    public void Weights_read_from_the_file_at_start_up_give_the_embedded_models_logits()
    {
        int[] tokens = Ids("tokens");
        var embedded = new float[tokens.Length * Vocabulary];
        var fromFile = new float[tokens.Length * Vocabulary];

        TinyGpt2.CreateSession(maxTokens: 64).Prefill(tokens, embedded);
        TinyGpt2FromFile.CreateSession(maxTokens: 64).Prefill(tokens, fromFile);

        Assert.Equal(embedded, fromFile);
    }

    [Fact]
    public void Int4_session_equals_its_eager_reference()
    {
        int[] tokens = Sequence(100);
        float[] input = tokens.Select(t => (float)t).ToArray();
        float[] expected = TinyGpt2Int4.ForwardEager(Weights, input, tokens.Length).ToArray();
        float[] float32 = TinyGpt2.ForwardEager(Weights, input, tokens.Length).ToArray();
        var actual = new float[tokens.Length * Vocabulary];

        TinyGpt2Int4.CreateSession(maxTokens: 100).Prefill(tokens, actual);

        Numerics.AssertRowsAgreeButForCodeFlips(actual, expected, Vocabulary);
        // The weights really are 4-bit (random weights this wide lose much at 4 bits: 0.55 of the logits' scale here).
        Assert.InRange(Numerics.RelativeError(actual, float32), 1e-2, 1.0);
    }
}
