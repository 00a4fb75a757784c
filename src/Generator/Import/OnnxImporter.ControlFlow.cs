// ONNX If: its branches are subgraphs that read the enclosing graph's values by name.
using System.Collections.Generic;
using System.Linq;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>
        /// If. A condition known at build time (exporters' shape checks: a rank or a dimension compared with a number) lowers
        /// the branch it takes in place and nothing of the other. A condition the graph computes (Silero VAD's sample rate,
        /// given as an input) lowers both branches and selects each output per sample — Where's exact select, so a value of
        /// the branch not taken (a NaN, an infinity) never reaches the result. Both branches then run on every call: a
        /// branch whose shapes do not fit the inputs stops the build, as any other node would.
        /// </summary>
        private void LowerIf(OnnxNode node, string name)
        {
            OnnxGraph thenBranch = node.Attributes.FirstOrDefault(a => a.Name == "then_branch")?.G ?? throw Unsupported(node, "the then_branch attribute is missing");
            OnnxGraph elseBranch = node.Attributes.FirstOrDefault(a => a.Name == "else_branch")?.G ?? throw Unsupported(node, "the else_branch attribute is missing");
            if (thenBranch.Outputs.Count != node.Outputs.Count || elseBranch.Outputs.Count != node.Outputs.Count)
                throw Unsupported(node, $"each branch must give its {node.Outputs.Count} outputs");
            string condition = Input(node, 0);
            if (_constants.TryGetValue(condition, out OnnxConstant? known))
            {
                if (known.Count != 1) throw Unsupported(node, "the condition must be one value");
                bool taken = known.Floats is { } f ? f[0] != 0f : known.PlainLongs is { } l ? l[0] != 0 : throw Unsupported(node, "the condition must be a boolean");
                OnnxGraph branch = taken ? thenBranch : elseBranch;
                LowerBranch(node, branch);
                for (int i = 0; i < node.Outputs.Count; i++) Join(node, i, branch.Outputs[i].Name, null, null);
                return;
            }
            foreach ((OnnxGraph branch, string which) in new[] { (thenBranch, "then_branch"), (elseBranch, "else_branch") })
            {
                try
                {
                    LowerBranch(node, branch);
                }
                catch (Stop stop) when (!stop.Fatal)
                {
                    throw Unsupported(node, $"its {which} cannot be compiled (the diagnostic before this one says why): the condition '{condition}' is computed "
                        + "at run time, so both branches are compiled for the inputs' shapes and run on every call; a branch written for other shapes "
                        + "(Silero VAD's 8 kHz branch given a 16 kHz window) stops the build — export the model for one case, or fold the condition");
                }
            }
            for (int i = 0; i < node.Outputs.Count; i++) Join(node, i, thenBranch.Outputs[i].Name, elseBranch.Outputs[i].Name, condition);
        }

        /// <summary>Output <paramref name="i"/> of an If: the taken branch's value, or Where(condition, then, else).</summary>
        private void Join(OnnxNode node, int i, string taken, string? other, string? condition)
        {
            string output = node.Outputs[i];
            if (output.Length == 0) return;
            if (other is null || condition is null) Alias(node, taken, output);
            else
            {
                var select = new OnnxNode { Name = node.Name, OpType = "Where" };
                select.Inputs.AddRange(new[] { condition, taken, other });
                select.Outputs.Add(output);
                LowerWhere(select, output);
            }
            if (_types.TryGetValue(taken, out var type)) _types[output] = type;
        }

        /// <summary>
        /// A branch's nodes lowered in place, in order, as the graph's own (its Constant nodes first, as the graph's are); its
        /// initializers become constants. A branch may read every value defined before the If but define none of them again.
        /// </summary>
        private void LowerBranch(OnnxNode node, OnnxGraph branch)
        {
            if (branch.Inputs.Count > 0) throw Unsupported(node, "a branch with inputs is not an If's (Loop and Scan bodies are not supported)");
            foreach (string defined in branch.Initializers.Select(t => t.Name).Concat(branch.Nodes.SelectMany(n => n.Outputs)).Where(o => o.Length > 0))
                if (_activations.ContainsKey(defined) || _constants.ContainsKey(defined) || _blocked.Contains(defined))
                    throw Unsupported(node, $"its branch '{branch.Name}' defines '{defined}' again");
            foreach (OnnxTensor t in branch.Initializers) _constants[t.Name] = Read(t, null);
            for (int i = 0; i < branch.Nodes.Count; i++)
                foreach (string read in branch.Nodes[i].Inputs.Distinct())
                {
                    if (!_consumers.TryGetValue(read, out List<int>? list)) _consumers[read] = list = new List<int>();
                    list.Add(i);
                }
            // The enclosing graph's place, restored after: patterns look at _graph around _index and skip what they joined.
            (List<OnnxNode> graph, int index, string scope) = (_graph, _index, _scope);
            int[] skipped = _skip.ToArray();
            _skip.Clear();
            _graph = branch.Nodes;
            _scope = "b" + (++_branches).ToString(System.Globalization.CultureInfo.InvariantCulture) + "_";
            try
            {
                for (int i = 0; i < branch.Nodes.Count; i++)
                    if (branch.Nodes[i].OpType == "Constant")
                    {
                        Lower(i);
                        _skip.Add(i);
                    }
                for (int i = 0; i < branch.Nodes.Count; i++)
                    if (!_skip.Contains(i)) Lower(i);
            }
            finally
            {
                (_graph, _index, _scope) = (graph, index, scope);
                _skip.Clear();
                _skip.UnionWith(skipped);
            }
            foreach (OnnxValueInfo output in branch.Outputs)
                if (!_activations.ContainsKey(output.Name) && !_constants.ContainsKey(output.Name))
                    throw Unsupported(node, $"its branch '{branch.Name}' does not compute its output '{output.Name}'");
        }
    }
}
