using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.ML.Tokenizers;
using ModelCompiler;
using TextGeneration;

// A prompt from the command line, or the default; the tokenizer train.py trained beside the model.
string prompt = args.Length > 0 ? string.Join(' ', args) : "The for statement is used to";
string folder = AppContext.BaseDirectory;
using Stream tokenizerFile = File.OpenRead(Path.Combine(folder, "tokenizer.model"));
LlamaTokenizer tokenizer = LlamaTokenizer.Create(tokenizerFile); // <s> first, as the model was trained
const int EndOfText = 2; // </s>: train.py ends every paragraph with it

// The text, streamed as it is generated (float32 weights, temperature 0.7, top-k 40).
int[] promptIds = tokenizer.EncodeToIds(prompt).ToArray();
using (DecoderSession session = DocsLlama.CreateSession(maxTokens: 512))
{
    var ids = new List<int>(promptIds);
    string shown = tokenizer.Decode(ids) ?? "";
    Console.Write(shown);
    foreach (int token in session.Generate(promptIds, maxNewTokens: 120, new Sampler(temperature: 0.7f, topK: 40, seed: 1), EndOfText))
    {
        ids.Add(token);
        string text = tokenizer.Decode(ids) ?? ""; // pieces join across tokens (a word's leading space): print what is new
        Console.Write(text.Substring(Math.Min(shown.Length, text.Length)));
        shown = text;
    }
    Console.WriteLine();
    Console.WriteLine();
}

// Speed and quality of each compiled form: greedy decoding from the prompt, and perplexity on the held-out paragraphs
// (every 20th of the documentation, never trained on) beside PyTorch's for the float32 weights.
SafeTensors data = SafeTensors.Load(Path.Combine(folder, "docs_llama_tokens.safetensors"));
float[] heldOut = data["heldout"].ToArray();
int window = data["heldout"].Shape[1], windows = data["heldout"].Shape[0];
Console.WriteLine($"{"weights",-22} {"decode tokens/s",15} {"prefill tokens/s",16} {"held-out perplexity",20}");
foreach ((string name, Func<DecoderSession> create) in new (string, Func<DecoderSession>)[]
{
    ("float32", () => DocsLlama.CreateSession(512)),
    ("int8", () => DocsLlamaInt8.CreateSession(512)),
    ("int4", () => DocsLlamaInt4.CreateSession(512)),
    ("int4, GPTQ", () => DocsLlamaGptq.CreateSession(512)),
    // The key/value cache in half (float16) or a quarter (int8) of the memory: for long contexts and many sessions.
    ("float32, f16 cache", () => DocsLlama.CreateSession(512, cacheFormat: KvCacheFormat.Float16)),
    ("GPTQ, int8 cache", () => DocsLlamaGptq.CreateSession(512, cacheFormat: KvCacheFormat.Int8)),
})
{
    using DecoderSession session = create();
    session.Generate(promptIds, 100).Count(); // warm up (the runtime optimizes code that runs often in the background)
    session.Reset();
    var clock = Stopwatch.StartNew();
    int decoded = session.Generate(promptIds, 200).Count();
    double decodeSeconds = clock.Elapsed.TotalSeconds; // includes the short prompt's prefill
    double logPerplexity = 0;
    clock.Restart();
    for (int w = 0; w < windows; w++)
    {
        int[] tokens = heldOut.AsSpan(w * window, window).ToArray().Select(v => (int)v).ToArray();
        logPerplexity += Math.Log(session.Perplexity(tokens));
    }
    double prefillSeconds = clock.Elapsed.TotalSeconds;
    Console.WriteLine($"{name,-22} {decoded / decodeSeconds,15:F0} {windows * window / prefillSeconds,16:F0} {Math.Exp(logPerplexity / windows),20:F3}");
}
Console.WriteLine($"{"PyTorch, float32",-22} {"",15} {"",16} {data["perplexity"].ToArray()[0],20:F3}");
Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores; one thread per session (CreateSession(maxTokens, maxDegreeOfParallelism) shares larger models' products).");
