using System;
using System.IO;
using System.Linq;
using Microsoft.ML.Tokenizers;
using TextGeneration;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The TextGeneration sample's model (samples/TextGeneration: a 2 M-parameter Llama train.py trained on the Python
/// documentation, with its SentencePiece tokenizer): held-out perplexity against PyTorch's, GPTQ against round to
/// nearest, and Microsoft.ML.Tokenizers against SentencePiece.
/// </summary>
public class TextGenerationTests
{
    private static readonly SafeTensors Data = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "docs_llama_tokens.safetensors"));

    /// <summary>Perplexity over every held-out window (each 128 tokens from position 0), as train.py computes PyTorch's.</summary>
    private static double HeldOutPerplexity(DecoderSession session)
    {
        float[] tokens = Data["heldout"].ToArray();
        int window = Data["heldout"].Shape[1], windows = Data["heldout"].Shape[0];
        double logSum = 0;
        for (int w = 0; w < windows; w++)
            logSum += Math.Log(session.Perplexity(tokens.AsSpan(w * window, window).ToArray().Select(v => (int)v).ToArray()));
        return Math.Exp(logSum / windows);
    }

    [Fact]
    public void Float32_held_out_perplexity_is_what_PyTorch_computes()
    {
        double pytorch = Data["perplexity"].ToArray()[0]; // 28.277

        double compiled = HeldOutPerplexity(DocsLlama.CreateSession(128));

        Assert.InRange(compiled / pytorch, 1 - 1e-4, 1 + 1e-4);
    }

    [Fact]
    public void A_float16_or_int8_key_value_cache_keeps_the_held_out_perplexity()
    {
        double float32 = HeldOutPerplexity(DocsLlama.CreateSession(128));
        using DecoderSession half = DocsLlama.CreateSession(128, cacheFormat: KvCacheFormat.Float16);
        using DecoderSession int8 = DocsLlama.CreateSession(128, cacheFormat: KvCacheFormat.Int8);

        double halfPerplexity = HeldOutPerplexity(half), int8Perplexity = HeldOutPerplexity(int8);

        Assert.Equal(DocsLlama.CreateSession(128).CacheBytes / 2, half.CacheBytes);
        Assert.True(int8.CacheBytes < DocsLlama.CreateSession(128).CacheBytes * 0.3);
        Assert.InRange(halfPerplexity / float32, 1 - 1e-3, 1 + 1e-3);
        Assert.InRange(int8Perplexity / float32, 1 - 1e-2, 1 + 1e-2);
        Assert.NotEqual(float32, int8Perplexity); // the cache really is int8
    }

    [Fact]
    public void Gptq_has_lower_held_out_perplexity_than_round_to_nearest_int4()
    {
        double float32 = HeldOutPerplexity(DocsLlama.CreateSession(128));
        double nearest = HeldOutPerplexity(DocsLlamaInt4.CreateSession(128));
        double gptq = HeldOutPerplexity(DocsLlamaGptq.CreateSession(128));

        // Here: float32 28.28, round to nearest 29.28, GPTQ 29.01 (32 calibration sequences of the training text).
        Assert.InRange(gptq, float32 * 0.98, nearest - 0.1);
        Assert.InRange(HeldOutPerplexity(DocsLlamaInt8.CreateSession(128)), float32 * 0.99, float32 * 1.01);
    }

    [Theory]
    [InlineData("The for statement is used to", new[] { 1, 342, 325, 586, 282, 452, 295 })]
    [InlineData("Return a new dict; raise KeyError if 42 keys are missing.",
        new[] { 1, 661, 260, 650, 1323, 1994, 971, 1943, 1786, 1963, 594, 393, 1943, 2011, 2005, 1187, 350, 1521, 1938, 1962 })]
    [InlineData("naïve café — 3.14", new[] { 1, 291, 1946, 198, 178, 336, 776, 1959, 198, 172, 1943, 2042, 1943, 2006, 1962, 1997, 2011 })]
    public void The_tokenizer_encodes_as_SentencePiece_does_and_decodes_back(string text, int[] sentencePiece)
    {
        // The ids are Python's sentencepiece on the same tokenizer.model (byte fallback for 'ï', 'é' and '—').
        using Stream model = File.OpenRead(Path.Combine(Numerics.ModelsFolder, "tokenizer.model"));
        LlamaTokenizer tokenizer = LlamaTokenizer.Create(model);

        int[] ids = tokenizer.EncodeToIds(text).ToArray();

        Assert.Equal(sentencePiece, ids);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Greedy_generation_continues_the_prompt_with_the_eager_references_tokens()
    {
        int[] prompt = { 1, 342, 325, 586, 282, 452, 295 }; // "The for statement is used to"
        using DecoderSession session = DocsLlama.CreateSession(128);
        int[] generated = session.Generate(prompt, 40).ToArray();

        // The eager reference, the whole sequence each step: its argmax after the last token is the next one.
        int[] sequence = prompt.Concat(generated).ToArray();
        SafeTensors weights = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "docs_llama.safetensors"));
        float[] logits = DocsLlama.ForwardEager(weights, sequence.Select(t => (float)t).ToArray(), sequence.Length).ToArray();
        int vocabulary = DocsLlama.OutputLength;
        for (int i = prompt.Length - 1; i < sequence.Length - 1; i++)
            Assert.Equal(sequence[i + 1], Sampler.ArgMax(logits.AsSpan(i * vocabulary, vocabulary)));
    }
}
