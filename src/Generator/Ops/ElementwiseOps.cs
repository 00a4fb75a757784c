using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Ops;

/// <summary>Element-wise ops: the functions of one value that fuse into a kernel's epilogue, and broadcasting Add and Mul.</summary>
internal static class ElementwiseOps
{
    /// <summary>The functions of one value (each fuses into the epilogue of the kernel that produces its input).</summary>
    private static readonly OpKind[] OneValue =
    {
        OpKind.Relu, OpKind.Sigmoid, OpKind.Tanh, OpKind.Gelu, OpKind.GeluTanh, OpKind.Silu, OpKind.Erf, OpKind.Sqrt, OpKind.Exp, OpKind.Reciprocal,
        OpKind.QuantizeLinear, OpKind.LeakyRelu, OpKind.ClampMin, OpKind.ClampMax, OpKind.AddScalar, OpKind.MulScalar, OpKind.Dropout,
        OpKind.Log, OpKind.Abs, OpKind.Floor, OpKind.Ceil, OpKind.Round, OpKind.Sign, OpKind.Softplus, OpKind.Softsign, OpKind.Elu,
        OpKind.Sin, OpKind.Cos, OpKind.Tan, OpKind.Sinh, OpKind.Cosh, OpKind.Asinh, OpKind.Acosh, OpKind.Atanh,
        OpKind.Asin, OpKind.Acos, OpKind.Atan, OpKind.ThresholdedRelu, OpKind.Shrink, OpKind.HardSwish,
    };

    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Unary, OneValue);
        catalogue.Shape(Broadcast, OpKind.Add, OpKind.Mul, OpKind.Maximum, OpKind.Minimum, OpKind.Binary);
        catalogue.Evaluate(c => EvaluationContext.Map(c.X, Function(c.Node.Source)), OneValue);
        catalogue.Evaluate(EvaluateBroadcast, OpKind.Add, OpKind.Mul, OpKind.Maximum, OpKind.Minimum, OpKind.Binary);
        catalogue.Lower(LowerElementwise, KernelKind.Elementwise);
        // Named alike as a Tensor method and an ONNX operator (Silu and Dropout are C# only: ONNX writes x·σ(x), and Dropout is Identity there).
        catalogue.ByName(onnx: true, OpKind.Relu, OpKind.Sigmoid, OpKind.Tanh, OpKind.Erf, OpKind.Sqrt, OpKind.Exp, OpKind.Reciprocal,
            OpKind.Log, OpKind.Abs, OpKind.Floor, OpKind.Ceil, OpKind.Round, OpKind.Sign, OpKind.Softplus, OpKind.Softsign,
            OpKind.Sin, OpKind.Cos, OpKind.Tan, OpKind.Sinh, OpKind.Cosh, OpKind.Asinh, OpKind.Acosh, OpKind.Atanh,
            OpKind.Asin, OpKind.Acos, OpKind.Atan);
        catalogue.ByName(onnx: false, OpKind.Silu, OpKind.Dropout);
        catalogue.Lower(LowerBroadcast, KernelKind.Add, KernelKind.Mul, KernelKind.Maximum, KernelKind.Minimum, KernelKind.Binary);
    }

    /// <summary>HardSwish's gate, clamp(x / 6 + 1/2, 0, 1), in float32 as the kernels compute it (a NaN kept).</summary>
    private static float HardSwishGate(float x)
    {
        float gate = x * (1f / 6f) + 0.5f;
        return gate < 0f ? 0f : gate > 1f ? 1f : gate;
    }

    /// <summary>Activations, scalar <c>+</c>/<c>×</c>, clamps, QuantizeLinear, Dropout: the input's shape; on a weight tensor, a constant (Passes/FoldConstants).</summary>
    private static Node? Unary(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        // On a weight tensor: a constant, computed at build time (Passes/FoldConstants).
        return new Node(op, inputs[0].Shape, isConstant: inputs[0].IsConstant);
    }

    /// <summary>Add, Mul: NumPy broadcasting over the per-sample shapes (a weight tensor never reaches the batch dimension).</summary>
    private static Node? Broadcast(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node a = inputs[0], b = inputs[1];
        // Activations carry a leading batch dimension; a weight tensor does not. Broadcasting is NumPy's on
        // the full shapes, so two activations need the same rank and a weight tensor may not reach the batch.
        if (!a.IsConstant && !b.IsConstant && a.Shape.Length != b.Shape.Length)
            return c.Mismatch($"{op.Kind}: shapes {c.Shape(a)} and {c.Shape(b)} do not broadcast (per-sample ranks differ)");
        Node activation = a.IsConstant ? b : a, other = a.IsConstant ? a : b;
        if (other.IsConstant && other.Shape.Length > activation.Shape.Length)
            return c.Mismatch($"{op.Kind}: weight '{other.Source.Name ?? other.Source.Text}' {c.Shape(other)} has more dimensions than a sample {c.Shape(activation)}");
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int da = ShapeContext.DimFromRight(a.Shape, rank - 1 - d), db = ShapeContext.DimFromRight(b.Shape, rank - 1 - d);
            if (da != db && da != 1 && db != 1)
                return c.Mismatch($"{op.Kind}: shapes {c.Shape(a)} and {c.Shape(b)} do not broadcast");
            shape[d] = da == 1 ? db : da;
        }
        // Two weight tensors: a constant, computed at build time (Passes/FoldConstants).
        return new Node(op, shape, isConstant: a.IsConstant && b.IsConstant);
    }

    /// <summary>Add, Mul with NumPy broadcasting (a weight tensor repeats for every sample).</summary>
    private static double[] EvaluateBroadcast(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        int samples = context.Samples;
        double[][] values = context.Values;
        Node a = context.Graph.Nodes[inputsOf[0]], b = context.Graph.Nodes[inputsOf[1]];
        int[] shape = context.Node.Shape, sa = ElementwiseOps.BroadcastStrides(a, shape), sb = ElementwiseOps.BroadcastStrides(b, shape);
        int count = context.Node.ElementCount;
        double[] va = values[a.Id], vb = values[b.Id];
        var y = new double[samples * count];
        for (int s = 0; s < samples; s++)
        {
            for (int f = 0; f < count; f++)
            {
                int oa = s * sa[0], ob = s * sb[0], rest = f;
                for (int d = shape.Length - 1; d >= 0; d--)
                {
                    int index = rest % shape[d];
                    rest /= shape[d];
                    oa += index * sa[d + 1];
                    ob += index * sb[d + 1];
                }
                y[s * count + f] = (float)(context.Node.Kind switch
                {
                    OpKind.Add => va[oa] + vb[ob],
                    OpKind.Mul => va[oa] * vb[ob],
                    // NaN wins, as ONNX Max and Min and the kernels' vector max and min have it.
                    OpKind.Maximum => double.IsNaN(va[oa]) || double.IsNaN(vb[ob]) ? double.NaN : Math.Max(va[oa], vb[ob]),
                    OpKind.Binary => Binary(((BinarySettings)context.Node.Source.Settings!).Function, va[oa], vb[ob]),
                    _ => double.IsNaN(va[oa]) || double.IsNaN(vb[ob]) ? double.NaN : Math.Min(va[oa], vb[ob]),
                });
            }
        }
        return y;
    }

    /// <summary>
    /// Which input of <paramref name="mul"/> (0 or 1) <paramref name="add"/> adds its product to: the one that is the Add's
    /// other operand, computed (not a constant) and of the Mul's own shape; −1 if none is.
    /// </summary>
    public static int ScaledOperand(ModelGraph graph, Node mul, Node add)
    {
        if (mul.Inputs.Length != 2 || mul.Inputs[0] == mul.Inputs[1]) return -1;
        int other = add.Inputs[0] == mul.Id ? add.Inputs[1] : add.Inputs[0];
        for (int i = 0; i < 2; i++)
        {
            Node x = graph.Nodes[mul.Inputs[i]];
            if (mul.Inputs[i] == other && !x.IsConstant && x.Shape.SequenceEqual(mul.Shape)) return i;
        }
        return -1;
    }

    /// <summary>
    /// Which input of an Add (0 or 1) is a constant of one value per channel (dimension 0 of the sample; every other
    /// dimension broadcast) while the other is computed and of the Add's own shape; −1 if neither.
    /// </summary>
    public static int ChannelConstant(ModelGraph graph, Node add)
    {
        if (add.Kind != OpKind.Add || add.Inputs.Length != 2 || add.Shape.Length < 2) return -1;
        for (int i = 0; i < 2; i++)
        {
            Node b = graph.Nodes[add.Inputs[i]], x = graph.Nodes[add.Inputs[1 - i]];
            if (!b.IsConstant || x.IsConstant || !x.Shape.SequenceEqual(add.Shape) || b.ElementCount != add.Shape[0]) continue;
            int[] strides = BroadcastStrides(b, add.Shape);
            if (strides[1] == (add.Shape[0] == 1 ? 0 : 1) && strides.Skip(2).All(s => s == 0)) return i;
        }
        return -1;
    }

    /// <summary>A function of two values in double, as the reference computes it (the kernels' operator structs agree).</summary>
    public static double Binary(BinaryFunction function, double x, double y) => function switch
    {
        BinaryFunction.Power => Math.Pow(x, y),
        BinaryFunction.Remainder => x % y,
        BinaryFunction.FloorRemainder => x % y is var r && r != 0 && (r < 0) != (y < 0) ? r + y : x % y,
        BinaryFunction.Greater => x > y ? 1 : 0,
        BinaryFunction.Less => x < y ? 1 : 0,
        BinaryFunction.GreaterOrEqual => x >= y ? 1 : 0,
        BinaryFunction.LessOrEqual => x <= y ? 1 : 0,
        BinaryFunction.Equal => x == y ? 1 : 0,
        BinaryFunction.NotEqual => x != y ? 1 : 0,
        BinaryFunction.Keep => x != 0 ? y : 0,
        BinaryFunction.ScaleResidual => x + x * y,
        _ => x != 0 ? 0 : y,
    };

    /// <summary>
    /// What a one-value op computes, in double as the eager reference (<c>ReferenceMath</c>); the caller rounds each
    /// result to float. The one definition that calibration and constant folding share.
    /// </summary>
    public static Func<double, double> Function(RecordedOp op) => op.Kind switch
    {
        OpKind.Relu => ReferenceMath.Relu,
        OpKind.Sigmoid => ReferenceMath.Sigmoid,
        OpKind.Tanh => Math.Tanh,
        OpKind.Gelu => ReferenceMath.Gelu,
        OpKind.GeluTanh => ReferenceMath.GeluTanh,
        OpKind.Silu => ReferenceMath.Silu,
        OpKind.Erf => ReferenceMath.Erf,
        OpKind.Sqrt => Math.Sqrt,
        OpKind.Exp => Math.Exp,
        OpKind.Reciprocal => v => 1 / v,
        OpKind.QuantizeLinear => v => Quantize(v, op.Scalar, (QuantizeCodes)op.Settings!),
        OpKind.LeakyRelu => v => v >= 0 ? v : (float)v * op.Scalar,
        OpKind.ClampMin => v => v < op.Scalar ? op.Scalar : v,
        OpKind.ClampMax => v => v > op.Scalar ? op.Scalar : v,
        OpKind.AddScalar => v => (float)v + op.Scalar,
        OpKind.MulScalar => v => (float)v * op.Scalar,
        OpKind.Dropout => v => v, // the identity at inference
        OpKind.Log => Math.Log,
        OpKind.Abs => Math.Abs,
        OpKind.Floor => Math.Floor,
        OpKind.Ceil => Math.Ceiling,
        OpKind.Round => v => Math.Round(v, MidpointRounding.ToEven),
        OpKind.Sign => ReferenceMath.Sign,
        OpKind.Softplus => ReferenceMath.Softplus,
        OpKind.Softsign => ReferenceMath.Softsign,
        OpKind.Elu => v => ReferenceMath.Elu(v, op.Scalar),
        OpKind.Sin => Math.Sin,
        OpKind.Cos => Math.Cos,
        OpKind.Tan => Math.Tan,
        OpKind.Sinh => Math.Sinh,
        OpKind.Cosh => Math.Cosh,
        OpKind.Asinh => ReferenceMath.Asinh,
        OpKind.Acosh => ReferenceMath.Acosh,
        OpKind.Atanh => ReferenceMath.Atanh,
        OpKind.Asin => Math.Asin,
        OpKind.Acos => Math.Acos,
        OpKind.Atan => Math.Atan,
        OpKind.ThresholdedRelu => v => v > op.Scalar ? v : 0,
        OpKind.Shrink => v => ReferenceMath.Shrink(v, op.Scalar, ((ShrinkSettings)op.Settings!).Bias),
        OpKind.HardSwish => v => (float)v * HardSwishGate((float)v),
        _ => throw new InvalidOperationException($"{op.Kind} is not a function of one value"),
    };

    /// <summary>ONNX QuantizeLinear in float, as the kernels compute it: clamp(round_half_even(x / scale) + zero, low, high).</summary>
    public static double Quantize(double x, float scale, QuantizeCodes codes) =>
        Math.Max(codes.Low, Math.Min(codes.High, Math.Round((float)x / scale, MidpointRounding.ToEven) + codes.Zero));

    /// <summary>
    /// Broadcast strides of <paramref name="operand"/> against <paramref name="shape"/>: the per-sample stride
    /// first (0 for a weight tensor, which has no batch dimension), then one per dimension, 0 where broadcast.
    /// </summary>
    public static int[] BroadcastStrides(Node operand, int[] shape)
    {
        int rank = shape.Length, lead = rank - operand.Shape.Length;
        var strides = new int[rank + 1];
        strides[0] = operand.IsConstant ? 0 : operand.ElementCount;
        int dense = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            int dim = d >= lead ? operand.Shape[d - lead] : 1;
            strides[d + 1] = dim == 1 && shape[d] != 1 || d < lead ? 0 : dense;
            dense *= dim;
        }
        return strides;
    }

    /// <summary>
    /// An operand's broadcast strides, all 0 for a constant that holds one value throughout (bit for bit, so reading its
    /// first value gives the same result everywhere): an ONNX Resize or Expand, which the importer writes as an Add of
    /// zeros, then lets the kernel merge the zeros' dimensions and copy a computed slice instead of adding each zero. Only
    /// where the values cannot change after the build: a folded constant, or an ONNX model's tensor (an ONNX model has no
    /// LoadWeights, and its file is checked against the build's hash at start-up). A safetensors tensor may be replaced
    /// by LoadWeights with one whose values differ.
    /// </summary>
    private static int[] OperandStrides(LoweringContext context, Node operand, int[] shape)
    {
        int[] strides = ElementwiseOps.BroadcastStrides(operand, shape);
        if (!operand.IsConstant || operand.Values is null && !context.Model.IsOnnx) return strides;
        float[]? values = operand.Values ?? (operand.Kind == OpKind.Parameter && operand.Weight is not null ? context.ReadTensor(operand.Weight.Name) : null);
        if (values is null || values.Length == 0) return strides;
        // Through double, which keeps a float's sign of zero and its NaN (netstandard2.0 has no SingleToInt32Bits).
        long first = BitConverter.DoubleToInt64Bits(values[0]);
        foreach (float v in values)
            if (BitConverter.DoubleToInt64Bits(v) != first) return strides;
        return new int[strides.Length];
    }

    /// <summary>A chain of element-wise ops with no kernel before it to fuse into: one element-wise kernel.</summary>
    private static KernelPlan LowerElementwise(LoweringContext context)
    {
        context.Epilogue.Insert(0, LoweringContext.Step(context.Root));
        string title = string.Join(", then ", context.Epilogue.Select(LoweringContext.Describe)) + $" over {Node.Format(context.Root.Shape)}";
        return new KernelPlan(context.Index, LoweringContext.Capitalize(title), context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output,
            new ElementwiseOp(context.Input.ElementCount), context.Epilogue.ToEquatableArray(), (long)context.Input.ElementCount * context.Epilogue.Count);
    }

    /// <summary>Add, Mul: one broadcasting pass, its epilogue fused.</summary>
    private static KernelPlan LowerBroadcast(LoweringContext context)
    {
        Node a = context.Input, b = context.Graph.Nodes[context.Root.Inputs[1]];
        int[] shape = context.Root.Shape;
        string between = context.Group.Kind switch { KernelKind.Add => "+", KernelKind.Mul => "×", _ => "and" };
        BinaryFunction function = context.Root.Source.Settings is BinarySettings binary ? binary.Function : BinaryFunction.Power;
        string what = context.Group.Kind == KernelKind.Binary ? function.ToString() : context.Group.Kind.ToString();
        string title = $"{what}: {LoweringContext.Describe(a)} {between} {LoweringContext.Describe(b)} → {Node.Format(shape)}" + context.After;
        if (context.Group.ScaledResidual is { } residual)
        {
            // x + x · g in one pass: a is the operand the product is added back to (multiplication commutes bit for bit).
            if (ScaledOperand(context.Graph, context.Root, residual) == 1) (a, b) = (b, a);
            function = BinaryFunction.ScaleResidual;
            title = $"Mul, then the product added back: {LoweringContext.Describe(a)} + {LoweringContext.Describe(a)} × {LoweringContext.Describe(b)} → {Node.Format(shape)}" + context.After;
        }
        (int[] walked, int[] aStrides, int[] bStrides) = LoweringContext.Collapse(shape, OperandStrides(context, a, shape), OperandStrides(context, b, shape));
        var broadcast = new BroadcastOp(context.Group.Kind, new EquatableArray<int>(walked), new EquatableArray<int>(aStrides), new EquatableArray<int>(bStrides), function);
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(a), context.Where(b), context.Output, broadcast, context.Epilogue.ToEquatableArray(), context.Root.ElementCount);
    }
}
