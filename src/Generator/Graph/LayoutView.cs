using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Graph;

/// <summary>
/// A strided view of one sample of a stored value: the shape it presents, the stride (in floats) of each dimension,
/// and where it starts. Slices, permutations and (when the strides allow it) reshapes compose into one view, so a chain
/// such as Split → Reshape → Transpose is a single strided copy from the original value.
/// </summary>
internal sealed class LayoutView
{
    private LayoutView(int[] shape, int[] strides, int offset)
    {
        Shape = shape; Strides = strides; Offset = offset;
    }

    public int[] Shape { get; }
    public int[] Strides { get; }
    public int Offset { get; }

    public static LayoutView Dense(int[] shape) => new((int[])shape.Clone(), ReferenceOps.DenseStrides(shape), 0);

    /// <summary>The view after <paramref name="node"/> (a layout op or a view op), or null when a reshape cannot be expressed with strides.</summary>
    public LayoutView? Then(Node node)
    {
        switch (node.Kind)
        {
            case OpKind.Slice:
            {
                (int axis, int start, int end, _, _) = (SliceSettings)node.Resolved!;
                int[] shape = (int[])Shape.Clone();
                shape[axis] = end - start;
                return new LayoutView(shape, (int[])Strides.Clone(), Offset + start * Strides[axis]);
            }
            case OpKind.Transpose or OpKind.Permute:
            {
                EquatableArray<int> order = ((PermuteSettings)node.Resolved!).Order;
                return new LayoutView(order.Select(d => Shape[d]).ToArray(), order.Select(d => Strides[d]).ToArray(), Offset);
            }
            case OpKind.Windows:
            {
                // [lead…, C, S₁…Sₛ] → [lead…, O₁…Oₛ, C, K₁…Kₛ]: position o_i steps stride_i along S_i, tap t_i steps
                // dilation_i (backwards from the last tap when flipped).
                var windows = (WindowsSettings)node.Source.Settings!;
                int spatial = windows.Kernel.Count, lead = Shape.Length - 1 - spatial;
                var strides = new List<int>(Strides.Take(lead));
                int offset = Offset;
                for (int i = 0; i < spatial; i++) strides.Add(windows.Strides[i] * Strides[lead + 1 + i]);
                strides.Add(Strides[lead]);
                for (int i = 0; i < spatial; i++)
                {
                    int step = windows.Dilations[i] * Strides[lead + 1 + i];
                    strides.Add(windows.Flipped ? -step : step);
                    if (windows.Flipped) offset += (windows.Kernel[i] - 1) * step;
                }
                return new LayoutView((int[])node.Shape.Clone(), strides.ToArray(), offset);
            }
            case OpKind.Reshape or OpKind.Flatten or OpKind.Dropout or OpKind.Unsqueeze or OpKind.Squeeze:
                return Reshape(node.Shape);
            default:
                return null;
        }
    }

    /// <summary>
    /// The same values seen with <paramref name="shape"/>, without copying: possible when each group of old dimensions
    /// that merges or splits is contiguous within itself (NumPy's no-copy reshape rule).
    /// </summary>
    private LayoutView? Reshape(int[] shape)
    {
        // Dimensions of size 1 take no part in addressing.
        int[] oldDims = Shape.Where(d => d != 1).ToArray();
        int[] oldStrides = Shape.Select((d, i) => (d, i)).Where(p => p.d != 1).Select(p => Strides[p.i]).ToArray();
        var newStrides = new int[shape.Length];
        int oi = 0, ni = 0;
        while (oi < oldDims.Length && ni < shape.Length)
        {
            if (shape[ni] == 1) { newStrides[ni++] = 1; continue; }
            int oj = oi + 1, nj = ni + 1;
            long np = shape[ni], op = oldDims[oi];
            while (np != op)
            {
                if (np < op)
                {
                    if (nj >= shape.Length) return null;
                    np *= shape[nj++];
                }
                else
                {
                    if (oj >= oldDims.Length) return null;
                    op *= oldDims[oj++];
                }
            }
            for (int k = oi; k < oj - 1; k++)
                if (oldStrides[k] != oldDims[k + 1] * oldStrides[k + 1]) return null;
            newStrides[nj - 1] = oldStrides[oj - 1];
            for (int k = nj - 1; k > ni; k--) newStrides[k - 1] = newStrides[k] * shape[k];
            oi = oj;
            ni = nj;
        }
        if (oi < oldDims.Length) return null;
        for (; ni < shape.Length; ni++)
        {
            if (shape[ni] != 1) return null;
            newStrides[ni] = 1;
        }
        return new LayoutView((int[])shape.Clone(), newStrides, Offset);
    }

    /// <summary>
    /// For each layout op (Transpose, Permute, Slice) reading through views from another layout op that nothing else
    /// reads: the nodes from that earlier op to just before this one, when they compose into one view. The earlier op then
    /// computes nothing; this op's copy reads the original value.
    /// </summary>
    public static Dictionary<int, List<Node>> Chains(ModelGraph graph, bool[] live, List<int>[] consumers)
    {
        var chains = new Dictionary<int, List<Node>>();
        var absorbed = new HashSet<int>();
        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id] || node.IsConstant || !OpKinds.IsLayout(node.Kind)) continue;
            var chain = new List<Node>();
            Node current = node;
            while (true)
            {
                // Back through views with one reader each, to a layout op with one reader.
                var between = new List<Node>();
                Node p = graph.Nodes[current.Inputs[0]];
                while (OpKinds.IsView(p.Kind) && SingleReader(p, live, consumers) && !p.IsConstant)
                {
                    between.Insert(0, p);
                    p = graph.Nodes[p.Inputs[0]];
                }
                if (!OpKinds.IsLayout(p.Kind) || p.IsConstant || !SingleReader(p, live, consumers) || absorbed.Contains(p.Id)) break;
                // p may already have composed the ops before it: they come along.
                chains.TryGetValue(p.Id, out List<Node>? before);
                var candidate = new List<Node>(before ?? new List<Node>()) { p };
                candidate.AddRange(between);
                candidate.AddRange(chain);
                if (Compose(graph, candidate, node) is null) break;
                chain = candidate;
                if (before is not null)
                {
                    chains.Remove(p.Id);
                    break;
                }
                current = p;
            }
            if (chain.Count == 0) continue;
            foreach (Node n in chain) absorbed.Add(n.Id);
            chains[node.Id] = chain;
        }
        return chains;
    }

    /// <summary>The view <paramref name="root"/> presents of the value <paramref name="chain"/>[0] reads, or null.</summary>
    public static LayoutView? Compose(ModelGraph graph, List<Node> chain, Node root)
    {
        LayoutView? view = Dense(graph.Nodes[chain[0].Inputs[0]].Shape);
        foreach (Node n in chain.Concat(new[] { root }))
        {
            view = view?.Then(n);
            if (view is null) return null;
        }
        return view;
    }

    private static bool SingleReader(Node node, bool[] live, List<int>[] consumers) => consumers[node.Id].Count(c => live[c]) == 1;
}
