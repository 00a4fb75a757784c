using System;

namespace ModelCompiler;

/// <summary>
/// Chooses the next token from a decoder's logits: greedy (temperature 0), or sampled from
/// <c>softmax(logits / temperature)</c> restricted to the <c>topK</c> most likely tokens and then to the fewest whose
/// probabilities reach <c>topP</c> (nucleus sampling), with a seeded generator for repeatable output.
/// </summary>
/// <remarks>Not thread-safe (it keeps its random state and buffers): one per session.</remarks>
public sealed class Sampler
{
    private readonly Random _random;
    private float[] _probabilities = Array.Empty<float>();
    private int[] _order = Array.Empty<int>();

    /// <param name="temperature">0 for greedy; otherwise the logits are divided by it (below 1 sharpens, above flattens).</param>
    /// <param name="topK">Keep only the k most likely tokens; 0 keeps all.</param>
    /// <param name="topP">Keep the fewest most likely tokens whose probabilities sum to at least this; 1 keeps all.</param>
    /// <param name="seed">Seeds the generator (the same seed and logits give the same tokens); null for a random seed.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of its range (temperature negative or not finite, topK negative, topP not in (0, 1]).</exception>
    public Sampler(float temperature = 1f, int topK = 0, float topP = 1f, int? seed = null)
    {
        if (!(temperature >= 0) || float.IsPositiveInfinity(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature is a finite number ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        if (!(topP > 0 && topP <= 1)) throw new ArgumentOutOfRangeException(nameof(topP), topP, "top-p is in (0, 1].");
        Temperature = temperature;
        TopK = topK;
        TopP = topP;
        _random = seed is int s ? new Random(s) : new Random();
    }

    /// <summary>Always the most likely token (the first of equals).</summary>
    public static Sampler Greedy => new(temperature: 0f);

    public float Temperature { get; }
    public int TopK { get; }
    public float TopP { get; }

    /// <summary>The most likely token: the first largest logit (NaN logits are never chosen unless all are NaN).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("No logits to choose from.", nameof(logits));
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best] || float.IsNaN(logits[best]) && !float.IsNaN(logits[i])) best = i;
        return best;
    }

    /// <summary>Chooses a token from <paramref name="logits"/> (one per vocabulary entry).</summary>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty.</exception>
    public int Sample(ReadOnlySpan<float> logits)
    {
        int best = ArgMax(logits);
        if (Temperature == 0f || TopK == 1 || !float.IsFinite(logits[best])) return best;
        int n = logits.Length;
        if (_probabilities.Length < n)
        {
            _probabilities = new float[n];
            _order = new int[n];
        }
        // Softmax of logits / temperature in double, each relative to the largest (so the best token's weight is 1).
        Span<float> p = _probabilities.AsSpan(0, n);
        double max = logits[best], inverse = 1.0 / Temperature;
        for (int i = 0; i < n; i++) p[i] = float.IsNaN(logits[i]) ? 0f : (float)Math.Exp((logits[i] - max) * inverse);
        int kept = n;
        Span<int> order = _order.AsSpan(0, n);
        bool sorted = TopK > 0 || TopP < 1f;
        if (sorted)
        {
            for (int i = 0; i < n; i++) order[i] = i;
            // Most likely first; ties keep the lower id first, so the choice does not depend on the sort's stability.
            int[] orderArray = _order;
            float[] weights = _probabilities;
            Array.Sort(orderArray, 0, n, Comparer.For(weights));
            if (TopK > 0) kept = Math.Min(kept, TopK);
            if (TopP < 1f)
            {
                double total = 0, running = 0;
                for (int i = 0; i < kept; i++) total += p[order[i]];
                int nucleus = 0;
                while (nucleus < kept)
                {
                    running += p[order[nucleus++]];
                    if (running >= TopP * total) break;
                }
                kept = nucleus;
            }
        }
        double sum = 0;
        for (int i = 0; i < kept; i++) sum += p[sorted ? order[i] : i];
        double target = _random.NextDouble() * sum, cumulative = 0;
        int last = best;
        for (int i = 0; i < kept; i++)
        {
            int id = sorted ? order[i] : i;
            if (p[id] == 0f) continue;
            last = id;
            cumulative += p[id];
            if (cumulative > target) return id;
        }
        return last;
    }

    /// <summary>Orders ids by weight, largest first, then by id.</summary>
    private sealed class Comparer : System.Collections.Generic.IComparer<int>
    {
        private float[] _weights = Array.Empty<float>();
        [ThreadStatic] private static Comparer? t_instance;

        public static Comparer For(float[] weights)
        {
            Comparer c = t_instance ??= new Comparer();
            c._weights = weights;
            return c;
        }

        public int Compare(int a, int b)
        {
            int byWeight = _weights[b].CompareTo(_weights[a]);
            return byWeight != 0 ? byWeight : a.CompareTo(b);
        }
    }
}
