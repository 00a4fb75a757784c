// ONNX If, Scan and Loop: their bodies are subgraphs that read the enclosing graph's values by name.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelCompiler.Generator.Model;

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

        /// <summary>Most body nodes a Scan may unroll to (iterations × nodes): the work of one build stays bounded.</summary>
        private const int MaxUnrolledNodes = 100_000;

        /// <summary>
        /// Scan (opset 9 and later), unrolled over its scan inputs' length, known at build time: each iteration lowers the
        /// body once more, its values renamed for the iteration, its state inputs bound to the previous iteration's state
        /// outputs (the initial values first) and its scan inputs to one slice of each scan input (forward or reverse, along
        /// any axis). The final states are outputs; each scan output is the iterations' values stacked along its axis (a
        /// balanced tree of Concats, in reverse for a reverse direction). A body with its own subgraphs is not unrolled.
        /// </summary>
        private void LowerScan(OnnxNode node, string name)
        {
            if (_model.DefaultOpset < 9) throw Unsupported(node, "Scan-8 (a batch axis and sequence_lens) is not supported; export with opset 9 or later");
            OnnxGraph body = node.Attributes.FirstOrDefault(a => a.Name == "body")?.G ?? throw Unsupported(node, "the body attribute is missing");
            int scans = (int)IntAttribute(node, "num_scan_inputs", 0), states = node.Inputs.Count - scans;
            if (scans < 1 || states < 0 || body.Inputs.Count != node.Inputs.Count || body.Outputs.Count < states || node.Outputs.Count != body.Outputs.Count)
                throw Unsupported(node, "its inputs, outputs and num_scan_inputs do not match its body");
            if (body.Nodes.Any(n => n.Attributes.Any(a => a.G is not null))) throw Unsupported(node, "a Scan body with its own subgraphs is not supported");
            long[] Ints(string attribute, int count, long fallback)
            {
                List<long>? values = node.Attributes.FirstOrDefault(a => a.Name == attribute)?.Ints;
                if (values is null || values.Count == 0) return Enumerable.Repeat(fallback, count).ToArray();
                return values.Count == count ? values.ToArray() : throw Unsupported(node, $"{attribute} must give {count} values");
            }
            long[] inputAxes = Ints("scan_input_axes", scans, 0), inputDirections = Ints("scan_input_directions", scans, 0);
            int outputs = body.Outputs.Count - states;
            long[] outputAxes = Ints("scan_output_axes", outputs, 0), outputDirections = Ints("scan_output_directions", outputs, 0);

            // The scan inputs' axes and their common length.
            var sources = new (int Value, int Axis, int Rank, bool Reverse)[scans];
            int length = -1;
            for (int j = 0; j < scans; j++)
            {
                string input = Input(node, states + j);
                int rank = RankOf(input), axis = SampleAxis(node, inputAxes[j], rank);
                int size = SampleShape(node, input)[axis - 1];
                if (length >= 0 && size != length) throw Unsupported(node, $"its scan inputs have lengths {length} and {size}");
                length = size;
                sources[j] = (Act(node, input), axis, rank, inputDirections[j] != 0);
            }
            if ((long)length * Math.Max(1, body.Nodes.Count) > MaxUnrolledNodes)
                throw Unsupported(node, $"{length} iterations of a {body.Nodes.Count}-node body would unroll to more than {MaxUnrolledNodes:N0} nodes");

            string[] state = Enumerable.Range(0, states).Select(i => Input(node, i)).ToArray();
            var stacked = new List<string>[outputs];
            for (int k = 0; k < outputs; k++) stacked[k] = new List<string>();
            int scope = ++_branches;
            for (int t = 0; t < length; t++)
            {
                string suffix = "#scan" + scope.ToString(CultureInfo.InvariantCulture) + "." + t.ToString(CultureInfo.InvariantCulture);
                var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
                for (int i = 0; i < states; i++) renamed[body.Inputs[i].Name] = state[i];
                for (int j = 0; j < scans; j++)
                {
                    // This iteration's slice of scan input j, without the scan axis.
                    (int value, int axis, int rank, bool reverse) = sources[j];
                    int at = reverse ? length - 1 - t : t;
                    int slice = Record(node, OpKind.Slice, new[] { value }, settings: new SliceSettings(axis - 1, at, at + 1, SliceOrigin.Exact));
                    string sliceName = body.Inputs[states + j].Name + suffix;
                    _activations[sliceName] = Record(node, OpKind.Squeeze, new[] { slice }, settings: new AxisSettings(axis - 1));
                    _ranks[sliceName] = rank - 1;
                    _types[sliceName] = TypeOf(Input(node, states + j));
                    renamed[body.Inputs[states + j].Name] = sliceName;
                }
                string[] results = LowerIteration(node, body, suffix, renamed);
                for (int i = 0; i < states; i++) state[i] = results[i];
                for (int k = 0; k < outputs; k++) stacked[k].Add(results[states + k]);
            }
            for (int i = 0; i < states; i++)
                if (node.Outputs[i].Length > 0) Alias(node, state[i], node.Outputs[i]);
            for (int k = 0; k < outputs; k++)
            {
                string output = node.Outputs[states + k];
                if (output.Length == 0) continue;
                List<string> values = outputDirections[k] != 0 ? Enumerable.Reverse(stacked[k]).ToList() : stacked[k];
                int rank = RankOf(values[0]) + 1, axis = SampleAxis(node, outputAxes[k], rank);
                var parts = values.Select(v => Record(node, OpKind.Unsqueeze, new[] { Act(node, v) }, settings: new AxisSettings(axis - 1))).ToList();
                _activations[output] = ConcatTree(node, parts, axis - 1);
                _ranks[output] = rank;
                if (_types.TryGetValue(values[0], out var type)) _types[output] = type;
            }
        }

        /// <summary>
        /// One iteration of a loop body lowered in place: its inputs bound by <paramref name="renamed"/> (body input → value),
        /// every value it defines renamed with <paramref name="suffix"/>; returns its outputs' names.
        /// </summary>
        private string[] LowerIteration(OnnxNode node, OnnxGraph body, string suffix, Dictionary<string, string> renamed)
        {
            foreach (string defined in body.Initializers.Select(v => v.Name).Concat(body.Nodes.SelectMany(n => n.Outputs)).Where(v => v.Length > 0))
                renamed[defined] = defined + suffix;
            string Rename(string value) => value.Length > 0 && renamed.TryGetValue(value, out string? to) ? to : value;
            var iteration = new OnnxGraph { Name = body.Name + suffix };
            foreach (OnnxTensor tensor in body.Initializers) _constants[Rename(tensor.Name)] = Read(tensor, null);
            foreach (OnnxNode n in body.Nodes)
            {
                var copy = new OnnxNode { Name = n.Name.Length > 0 ? n.Name + suffix : "", OpType = n.OpType, Domain = n.Domain };
                copy.Inputs.AddRange(n.Inputs.Select(Rename));
                copy.Outputs.AddRange(n.Outputs.Select(Rename));
                copy.Attributes.AddRange(n.Attributes);
                foreach (string read in copy.Inputs) _uses[read] = _uses.TryGetValue(read, out int u) ? u + 1 : 1;
                iteration.Nodes.Add(copy);
            }
            foreach (OnnxValueInfo output in body.Outputs)
            {
                string to = Rename(output.Name);
                _uses[to] = _uses.TryGetValue(to, out int u) ? u + 1 : 1;
                iteration.Outputs.Add(new OnnxValueInfo { Name = to });
            }
            LowerBranch(node, iteration);
            return iteration.Outputs.Select(o => o.Name).ToArray();
        }

        /// <summary>
        /// Loop with a trip count known at build time (at most 4,096), unrolled as Scan is. Its condition: absent or known
        /// true, and the body's known true at every iteration — the plain unrolled body; computed at run time — each state
        /// kept from the iteration where the condition first turns false, per sample (a running "still looping" mask and
        /// Where's exact select), which needs a loop without scan outputs (their length would depend on the values).
        /// </summary>
        private void LowerLoop(OnnxNode node, string name)
        {
            OnnxGraph body = node.Attributes.FirstOrDefault(a => a.Name == "body")?.G ?? throw Unsupported(node, "the body attribute is missing");
            if (node.Inputs.Count < 2 || node.Inputs[0].Length == 0 || !_constants.TryGetValue(node.Inputs[0], out OnnxConstant? tripCount) || tripCount.PlainLongs is not { Length: 1 } trips)
                throw Unsupported(node, "its trip count must be known at build time (an initializer or a Constant)");
            if (trips[0] < 0 || trips[0] > 4096) throw Unsupported(node, $"a trip count of {trips[0]}: at most 4,096 iterations are unrolled");
            int states = node.Inputs.Count - 2, outputs = body.Outputs.Count - 1 - states;
            if (body.Inputs.Count != states + 2 || outputs < 0 || node.Outputs.Count != states + outputs)
                throw Unsupported(node, "its inputs and outputs do not match its body");
            if (body.Nodes.Any(n => n.Attributes.Any(a => a.G is not null))) throw Unsupported(node, "a Loop body with its own subgraphs is not supported");
            if (outputs > 0 && !_whole) throw Unsupported(node, "scan outputs stack along a new first axis, the batch's place: supported where the graph is compiled whole");
            if ((long)trips[0] * Math.Max(1, body.Nodes.Count) > MaxUnrolledNodes)
                throw Unsupported(node, $"{trips[0]} iterations of a {body.Nodes.Count}-node body would unroll to more than {MaxUnrolledNodes:N0} nodes");
            string? condition = node.Inputs[1].Length > 0 ? node.Inputs[1] : null;
            string[] state = Enumerable.Range(0, states).Select(i => Input(node, 2 + i)).ToArray();
            var stacked = new List<string>[outputs];
            for (int k = 0; k < outputs; k++) stacked[k] = new List<string>();
            bool masked = false;
            int scope = ++_branches;
            for (int t = 0; t < trips[0]; t++)
            {
                if (condition is not null && _constants.TryGetValue(condition, out OnnxConstant? known) && !masked)
                {
                    bool go = known.PlainLongs is { Length: 1 } l ? l[0] != 0 : known.Floats is { Length: 1 } f ? f[0] != 0f : throw Unsupported(node, "the condition must be one boolean");
                    if (!go) break; // known false: the loop ends here, at build time
                }
                else if (condition is not null && !masked)
                {
                    if (outputs > 0) throw Unsupported(node, "a condition computed at run time with scan outputs (their length would depend on the values) is not supported");
                    masked = true;
                }
                string suffix = "#loop" + scope.ToString(CultureInfo.InvariantCulture) + "." + t.ToString(CultureInfo.InvariantCulture);
                string iterationNumber = body.Inputs[0].Name + suffix + ".i";
                _constants[iterationNumber] = new OnnxConstant(Array.Empty<long>(), null, new long[] { t });
                var renamed = new Dictionary<string, string>(StringComparer.Ordinal) { [body.Inputs[0].Name] = iterationNumber };
                string conditionIn = body.Inputs[1].Name + suffix + ".c";
                if (condition is not null) Alias(node, condition, conditionIn);
                else _constants[conditionIn] = new OnnxConstant(Array.Empty<long>(), null, new long[] { 1 });
                renamed[body.Inputs[1].Name] = conditionIn;
                for (int i = 0; i < states; i++) renamed[body.Inputs[2 + i].Name] = state[i];
                string[] results = LowerIteration(node, body, suffix, renamed);
                for (int i = 0; i < states; i++)
                {
                    if (!masked) { state[i] = results[1 + i]; continue; }
                    // Still looping: the new state; else the one the loop stopped at.
                    string kept = results[1 + i] + ".kept";
                    var select = new OnnxNode { Name = node.Name, OpType = "Where" };
                    select.Inputs.AddRange(new[] { condition!, results[1 + i], state[i] });
                    select.Outputs.Add(kept);
                    LowerWhere(select, kept);
                    if (_types.TryGetValue(results[1 + i], out var type)) _types[kept] = type;
                    state[i] = kept;
                }
                for (int k = 0; k < outputs; k++) stacked[k].Add(results[1 + states + k]);
                if (condition is not null && masked)
                {
                    // The running mask: still looping and the body says go on.
                    string both = results[0] + ".and";
                    var and = new OnnxNode { Name = node.Name, OpType = "And" };
                    and.Inputs.AddRange(new[] { condition, results[0] });
                    and.Outputs.Add(both);
                    Operators["And"](this, and, name);
                    Propagate(and);
                    condition = both;
                }
                else condition = results[0];
            }
            for (int i = 0; i < states; i++)
                if (node.Outputs[i].Length > 0) Alias(node, state[i], node.Outputs[i]);
            for (int k = 0; k < outputs; k++)
            {
                string output = node.Outputs[states + k];
                if (output.Length == 0) continue;
                if (stacked[k].Count == 0) throw Unsupported(node, "a loop that runs no iteration has empty scan outputs, which a compiled model cannot give");
                int rank = RankOf(stacked[k][0]) + 1;
                // Stacked along a new first axis of the file's: the sample's first when compiled whole (with the batch first it
                // would be the batch's place, refused below).
                var parts = stacked[k].Select(v => Record(node, OpKind.Unsqueeze, new[] { Act(node, v) }, settings: new AxisSettings(0))).ToList();
                _activations[output] = ConcatTree(node, parts, 0);
                _ranks[output] = rank;
                if (_types.TryGetValue(stacked[k][0], out var type)) _types[output] = type;
            }
        }

        /// <summary>Values joined along a sample axis by a balanced tree of pairwise Concats: each value is copied log₂ n times, not n.</summary>
        private int ConcatTree(OnnxNode node, IReadOnlyList<int> parts, int sampleAxis)
        {
            var level = parts.ToList();
            while (level.Count > 1)
            {
                var next = new List<int>();
                for (int k = 0; k + 1 < level.Count; k += 2) next.Add(Record(node, OpKind.Concat, new[] { level[k], level[k + 1] }, settings: new AxisSettings(sampleAxis)));
                if (level.Count % 2 == 1) next.Add(level[level.Count - 1]);
                level = next;
            }
            return level[0];
        }
    }
}
