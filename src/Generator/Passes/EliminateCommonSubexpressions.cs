using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Common subexpression elimination on the recorded ops: an op equal to an earlier one (the same kind, the same
/// inputs after earlier merges, the same weights and constant arguments) is that op, so it is computed once. Typical
/// source: a layer applied twice to the same value, such as two attention calls on one input sharing their projection.
/// Runs before shape inference, on the ops as recorded; ids are renumbered so that each op's id is its index.
/// </summary>
internal static class EliminateCommonSubexpressions
{
    public static (List<RecordedOp> Ops, int[] Outputs) Run(IReadOnlyList<RecordedOp> ops, int[] outputs)
    {
        var replacement = new int[ops.Count];
        var kept = new List<RecordedOp>();
        var seen = new Dictionary<OpKey, int>();
        foreach (RecordedOp op in ops)
        {
            int[] inputs = op.Inputs.Select(i => replacement[i]).ToArray();
            var key = new OpKey(op.Kind, new EquatableArray<int>(inputs), op.Name, op.WeightName, op.BiasName,
                op.Scalar.ToString("R", System.Globalization.CultureInfo.InvariantCulture), op.Settings);
            if (seen.TryGetValue(key, out int earlier))
            {
                replacement[op.Id] = earlier;
                continue;
            }
            int id = kept.Count;
            kept.Add(op with { Id = id, Inputs = new EquatableArray<int>(inputs) });
            seen[key] = id;
            replacement[op.Id] = id;
        }
        return (kept, outputs.Select(o => replacement[o]).ToArray());
    }

    /// <summary>What makes two ops the same computation (settings compare by value; the scalar by its exact text).</summary>
    private sealed record OpKey(OpKind Kind, EquatableArray<int> Inputs, string? Name, string? WeightName, string? BiasName, string Scalar, OpSettings? Settings);
}
