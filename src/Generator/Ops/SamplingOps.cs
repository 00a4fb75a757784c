using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>Ops that read their input where another value says: GridSample (ONNX's, PyTorch's grid_sample).</summary>
internal static class SamplingOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(GridSample, OpKind.GridSample);
        catalogue.Evaluate(EvaluateGridSample, OpKind.GridSample);
        catalogue.Lower(LowerGridSample, KernelKind.GridSample);
    }

    /// <summary>GridSample: an input <c>[…, C, H, W]</c> and a grid <c>[…, Ho, Wo, 2]</c> (both values, the same leading dimensions) give <c>[…, C, Ho, Wo]</c>.</summary>
    private static Node? GridSample(ShapeContext c)
    {
        Node x = c.Inputs[0], grid = c.Inputs[1];
        if (x.IsConstant || grid.IsConstant) return c.NotOnConstants();
        int lead = x.Shape.Length - 3;
        if (lead < 0 || grid.Shape.Length != lead + 3 || grid.Shape[lead + 2] != 2 || !x.Shape.Take(lead).SequenceEqual(grid.Shape.Take(lead)))
            return c.Mismatch($"GridSample: an input of {c.Shape(x)} ([…, C, H, W]) takes a grid of […, Ho, Wo, 2] with the same leading dimensions, not {c.Shape(grid)}");
        int[] shape = x.Shape.Take(lead + 1).Concat(new[] { grid.Shape[lead], grid.Shape[lead + 1] }).ToArray();
        return SizeMath.Product(shape) > int.MaxValue ? c.Mismatch($"GridSample: the output {Node.Format(shape)} is too large") : new Node(c.Op, shape, isConstant: false);
    }

    private static GridSampleOp GridSampleOf(ModelGraph graph, Node node)
    {
        Node x = graph.Nodes[node.Inputs[0]];
        var s = (GridSampleSettings)node.Source.Settings!;
        int lead = x.Shape.Length - 3;
        int pairs = x.Shape.Take(lead).Aggregate(1, (p, d) => checked(p * d));
        return new GridSampleOp(pairs, x.Shape[lead], x.Shape[lead + 1], x.Shape[lead + 2], node.Shape[lead + 1], node.Shape[lead + 2], s.Mode, s.Padding, s.AlignCorners);
    }

    /// <summary>
    /// GridSample, output by output in double: the pixel coordinate, then the neighbours' values (outside the input, 0)
    /// weighted as PyTorch's grid_sample weights them (GridSampling's coordinates, as the kernel's).
    /// </summary>
    private static double[] EvaluateGridSample(EvaluationContext context)
    {
        GridSampleOp op = GridSampleOf(context.Graph, context.Node);
        double[] x = context.X, grid = context.Values[context.Node.Inputs[1]];
        int plane = op.Height * op.Width, positions = op.OutHeight * op.OutWidth;
        var y = new double[(long)context.Samples * op.Pairs * op.Channels * positions];
        for (long n = 0; n < (long)context.Samples * op.Pairs; n++)
        for (int p = 0; p < positions; p++)
        {
            float gx = (float)grid[(n * positions + p) * 2], gy = (float)grid[(n * positions + p) * 2 + 1];
            float ix = GridSampling.Unnormalize(gx, op.Width, op.AlignCorners), iy = GridSampling.Unnormalize(gy, op.Height, op.AlignCorners);
            for (int ch = 0; ch < op.Channels; ch++)
            {
                long planeAt = (n * op.Channels + ch) * plane;
                double Read(double px, double py) =>
                    px >= 0 && px < op.Width && py >= 0 && py < op.Height ? x[planeAt + (long)py * op.Width + (long)px] : 0.0;
                double sum = 0;
                if (op.Mode == GridSampleMode.Cubic)
                {
                    double x0 = Math.Floor(ix), y0 = Math.Floor(iy);
                    for (int j = 0; j < 4; j++)
                    for (int i = 0; i < 4; i++)
                        sum += GridSampling.CubicWeight(i, (float)(ix - x0)) * GridSampling.CubicWeight(j, (float)(iy - y0))
                            * Read(Math.Truncate(GridSampling.Source((float)(x0 - 1 + i), op.Width, op.Padding, op.AlignCorners)),
                                   Math.Truncate(GridSampling.Source((float)(y0 - 1 + j), op.Height, op.Padding, op.AlignCorners)));
                }
                else
                {
                    double sx = GridSampling.Source(ix, op.Width, op.Padding, op.AlignCorners), sy = GridSampling.Source(iy, op.Height, op.Padding, op.AlignCorners);
                    if (op.Mode == GridSampleMode.Nearest) sum = Read(Math.Round(sx, MidpointRounding.ToEven), Math.Round(sy, MidpointRounding.ToEven));
                    else
                    {
                        double x0 = Math.Floor(sx), y0 = Math.Floor(sy), tx = sx - x0, ty = sy - y0;
                        sum = Read(x0, y0) * (1 - tx) * (1 - ty) + Read(x0 + 1, y0) * tx * (1 - ty) + Read(x0, y0 + 1) * (1 - tx) * ty + Read(x0 + 1, y0 + 1) * tx * ty;
                    }
                }
                y[(n * op.Channels + ch) * positions + p] = (float)sum;
            }
        }
        return y;
    }

    /// <summary>GridSample: the taps of a block of output positions, then every channel's gather.</summary>
    private static KernelPlan LowerGridSample(LoweringContext context)
    {
        GridSampleOp op = GridSampleOf(context.Graph, context.Root);
        Node grid = context.Graph.Nodes[context.Root.Inputs[1]];
        int taps = op.Mode switch { GridSampleMode.Nearest => 1, GridSampleMode.Linear => 4, _ => 16 };
        string title = $"GridSample ({op.Mode.ToString().ToLowerInvariant()}, {op.Padding.ToString().ToLowerInvariant()} padding{(op.AlignCorners ? ", corners aligned" : "")}): "
            + $"{Node.Format(context.Input.Shape)} at the points of {Node.Format(grid.Shape)} → {Node.Format(context.Root.Shape)}";
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), context.Where(grid), context.Output, op,
            EquatableArray<EpilogueStep>.Empty, 2L * context.Root.ElementCount * taps);
    }
}
