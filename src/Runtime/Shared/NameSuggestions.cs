// Compiled into both the runtime and the generator, so a missing weight is explained the same way
// at build time (diagnostic MC0004) and at run time (the eager reference's exception).
using System;
using System.Collections.Generic;

namespace ModelCompiler.Weights;

internal static class NameSuggestions
{
    /// <summary>Up to <paramref name="count"/> names closest to <paramref name="name"/> by edit distance, closest first, ties ordinal.</summary>
    public static List<string> Nearest(string name, IEnumerable<string> candidates, int count = 3)
    {
        var scored = new List<KeyValuePair<int, string>>();
        foreach (string candidate in candidates)
            scored.Add(new KeyValuePair<int, string>(Distance(name, candidate), candidate));
        scored.Sort((a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : string.CompareOrdinal(a.Value, b.Value));
        var result = new List<string>();
        for (int i = 0; i < scored.Count && i < count; i++) result.Add(scored[i].Value);
        return result;
    }

    /// <summary>Levenshtein distance.</summary>
    public static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            int[] swap = previous; previous = current; current = swap;
        }
        return previous[b.Length];
    }
}
