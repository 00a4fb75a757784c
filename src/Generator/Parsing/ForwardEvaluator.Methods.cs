// The DSL table: each Tensor method with settings mapped to the catalogue ops it records (those recorded by name alone
// are the catalogue's own, OpCatalogue.ByMethod).
using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Parsing;

internal sealed partial class ForwardEvaluator
{
    /// <summary>Records what one Tensor method call computes; the receiver is already evaluated.</summary>
    private delegate Value MethodRule(ForwardEvaluator evaluator, IInvocationOperation invocation, Env env, int receiver);

    /// <summary>The Tensor methods whose arguments set what is compiled, by name; each reads its arguments at build time.</summary>
    private static readonly Dictionary<string, MethodRule> Methods = new(StringComparer.Ordinal)
    {
        ["Add"] = (e, i, env, r) => e.AddOrMul(i, env, r),
        ["AddPositions"] = (e, i, env, r) => e.Embedding(i, env, r),
        ["AvgPool2d"] = (e, i, env, r) => e.Pool(i, env, r),
        ["BatchNorm"] = (e, i, env, r) => e.BatchNorm(i, env, r),
        ["Clamp"] = (e, i, env, r) => e.Clamp(i, env, r),
        ["Concat"] = (e, i, env, r) => e.Concat(i, env, r),
        ["Conv1d"] = (e, i, env, r) => e.Conv(i, env, r),
        ["Conv2d"] = (e, i, env, r) => e.Conv(i, env, r),
        ["Elu"] = (e, i, env, r) => e.Elu(i, env, r),
        ["Maximum"] = (e, i, env, r) => e.Pairwise(OpKind.Maximum, i, env, r),
        ["Minimum"] = (e, i, env, r) => e.Pairwise(OpKind.Minimum, i, env, r),
        ["Embedding"] = (e, i, env, r) => e.Embedding(i, env, r),
        ["Gelu"] = (e, i, env, r) => e.Gelu(i, env, r),
        ["LayerNorm"] = (e, i, env, r) => e.LayerNorm(i, env, r),
        ["LeakyRelu"] = (e, i, env, r) => e.LeakyRelu(i, env, r),
        ["Linear"] = (e, i, env, r) => e.LinearOrParameter(i, env, r),
        ["MatMul"] = (e, i, env, r) => e.MatMul(i, env, r),
        ["MaxPool2d"] = (e, i, env, r) => e.Pool(i, env, r),
        ["Mean"] = (e, i, env, r) => e.Mean(i, env, r),
        ["Mul"] = (e, i, env, r) => e.AddOrMul(i, env, r),
        ["MultiHeadAttention"] = (e, i, env, r) => e.MultiHeadAttention(i, env, r),
        ["Parameter"] = (e, i, env, r) => e.LinearOrParameter(i, env, r),
        ["Permute"] = (e, i, env, r) => e.Permute(i, env, r),
        ["Reshape"] = (e, i, env, r) => e.Reshape(i, env, r),
        ["RmsNorm"] = (e, i, env, r) => e.RmsNorm(i, env, r),
        ["Rotary"] = (e, i, env, r) => e.Rotary(i, env, r),
        ["CachedAttention"] = (e, i, env, r) => e.CachedAttention(i, env, r),
        ["ScaledDotProductAttention"] = (e, i, env, r) => e.ScaledDotProductAttention(i, env, r),
        ["Slice"] = (e, i, env, r) => e.Slice(i, env, r),
        ["Split"] = (e, i, env, r) => e.Split(i, env, r),
        ["Squeeze"] = (e, i, env, r) => e.Squeeze(i, env, r),
        ["Transpose"] = (e, i, env, r) => e.Transpose(i, env, r),
        ["Unsqueeze"] = (e, i, env, r) => e.Unsqueeze(i, env, r),
    };

    private static IArgumentOperation? Arg(IInvocationOperation invocation, string name) => invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == name);

    /// <summary>Tensor.Linear, Tensor.Parameter.</summary>
    private Value LinearOrParameter(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!;
        string weight = ToStringValue(Eval(name.Value, env), name);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        if (invocation.TargetMethod.Name != "Linear") return Record(OpKind.Parameter, invocation, Array.Empty<int>(), weight, nameLocation: nameLocation);
        var linear = (TensorValue)Record(OpKind.Linear, invocation, new[] { receiver }, weight, nameLocation: nameLocation);
        // A weight stored [in, out] (GPT-2's Conv1D) is read through the header's transposed view of it.
        if (BoolArg(Arg(invocation, "transposed"), env))
            _ops[linear.Id] = _ops[linear.Id] with { WeightName = weight + ".weight" + SafeTensorsHeader.TransposedSuffix };
        return linear;
    }

    /// <summary>Tensor.LeakyRelu.</summary>
    private Value LeakyRelu(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation slope = Arg(invocation, "slope")!;
        return Record(OpKind.LeakyRelu, invocation, new[] { receiver }, scalar: ToFloat(Eval(slope.Value, env), slope));
    }

    /// <summary>Tensor.Clamp.</summary>
    private Value Clamp(IInvocationOperation invocation, Env env, int receiver)
    {
        // Two element-wise steps, each with its constant: both fuse into the producer's epilogue.
        IArgumentOperation min = Arg(invocation, "min")!, max = Arg(invocation, "max")!;
        float low = ToFloat(Eval(min.Value, env), min), high = ToFloat(Eval(max.Value, env), max);
        if (!(low <= high)) throw Unsupported(invocation, $"Clamp: min {low} is above max {high}");
        var lower = (TensorValue)Record(OpKind.ClampMin, invocation, new[] { receiver }, scalar: low);
        return Record(OpKind.ClampMax, invocation, new[] { lower.Id }, scalar: high);
    }

    /// <summary>Tensor.Embedding, Tensor.AddPositions: a table by name.</summary>
    private Value Embedding(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!;
        string table = ToStringValue(Eval(name.Value, env), name);
        return Record(invocation.TargetMethod.Name == "AddPositions" ? OpKind.PositionEmbedding : OpKind.Embedding, invocation, new[] { receiver }, table, nameLocation: name.IsImplicit ? null : LocationInfo.From(name.Syntax));
    }

    /// <summary>Tensor.Mean.</summary>
    private Value Mean(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation dimension = Arg(invocation, "dimension")!;
        return Record(OpKind.Reduce, invocation, new[] { receiver }, settings: new ReduceSettings(ToInt(Eval(dimension.Value, env), dimension), Kernels.ReduceKind.Mean));
    }

    /// <summary>Tensor.BatchNorm.</summary>
    private Value BatchNorm(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!, epsilon = Arg(invocation, "epsilon")!;
        string norm = ToStringValue(Eval(name.Value, env), name);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        return Record(OpKind.BatchNorm, invocation, new[] { receiver }, norm, ToFloat(Eval(epsilon.Value, env), epsilon), nameLocation: nameLocation);
    }

    /// <summary>Tensor.Conv2d, Tensor.Conv1d.</summary>
    private Value Conv(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!;
        string weight = ToStringValue(Eval(name.Value, env), name);
        int[] values = new[] { "stride", "padding", "dilation", "groups" }.Select(a => ToInt(Eval(Arg(invocation, a)!.Value, env), Arg(invocation, a)!)).ToArray();
        var settings = new ConvSettings(Stride: values[0], Padding: values[1], Dilation: values[2], Groups: values[3]);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        return Record(invocation.TargetMethod.Name == "Conv2d" ? OpKind.Conv2d : OpKind.Conv1d, invocation, new[] { receiver }, weight, settings: settings, nameLocation: nameLocation);
    }

    /// <summary>Tensor.MaxPool2d, Tensor.AvgPool2d.</summary>
    private Value Pool(IInvocationOperation invocation, Env env, int receiver)
    {
        int[] values = new[] { "kernel", "stride", "padding" }.Select(a => ToInt(Eval(Arg(invocation, a)!.Value, env), Arg(invocation, a)!)).ToArray();
        // A stride of 0 means the window's size, as PyTorch's default stride.
        var settings = new PoolSettings(Window: values[0], Stride: values[1] == 0 ? values[0] : values[1], Padding: values[2]);
        return Record(invocation.TargetMethod.Name == "MaxPool2d" ? OpKind.MaxPool2d : OpKind.AvgPool2d, invocation, new[] { receiver }, settings: settings);
    }

    /// <summary>Tensor.Transpose.</summary>
    private Value Transpose(IInvocationOperation invocation, Env env, int receiver)
    {
        return Record(OpKind.Transpose, invocation, new[] { receiver }, settings: new TransposeSettings(IntArg(Arg(invocation, "dim0")!, env), IntArg(Arg(invocation, "dim1")!, env)));
    }

    /// <summary>Tensor.Unsqueeze.</summary>
    private Value Unsqueeze(IInvocationOperation invocation, Env env, int receiver)
    {
        return Record(OpKind.Unsqueeze, invocation, new[] { receiver }, settings: new AxisSettings(IntArg(Arg(invocation, "dimension")!, env)));
    }

    /// <summary>Tensor.Squeeze.</summary>
    private Value Squeeze(IInvocationOperation invocation, Env env, int receiver)
    {
        return Record(OpKind.Squeeze, invocation, new[] { receiver }, settings: new AxisSettings(IntArg(Arg(invocation, "dimension")!, env)));
    }

    /// <summary>Tensor.Permute.</summary>
    private Value Permute(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation dims = Arg(invocation, "dims")!;
        if (Eval(dims.Value, env) is not IntsValue order) throw Unsupported(dims, "Permute needs constant dimensions");
        return Record(OpKind.Permute, invocation, new[] { receiver }, settings: new PermuteSettings(new EquatableArray<int>(order.Values)));
    }

    /// <summary>Tensor.Slice.</summary>
    private Value Slice(IInvocationOperation invocation, Env env, int receiver)
    {
        return Record(OpKind.Slice, invocation, new[] { receiver },
            settings: new SliceSettings(IntArg(Arg(invocation, "dimension")!, env), IntArg(Arg(invocation, "start")!, env), IntArg(Arg(invocation, "end")!, env), SliceOrigin.Exact));
    }

    /// <summary>Tensor.Split.</summary>
    private Value Split(IInvocationOperation invocation, Env env, int receiver)
    {
        int dimension = IntArg(Arg(invocation, "dimension")!, env);
        IArgumentOperation sizesArgument = Arg(invocation, "sizes")!;
        if (Eval(sizesArgument.Value, env) is not IntsValue sizes || sizes.Values.Length == 0 || sizes.Values.Any(v => v <= 0))
            throw Unsupported(sizesArgument, "Split needs constant, positive sizes");
        long sum = sizes.Values.Sum(v => (long)v);
        if (sum > Kernels.SizeMath.MaxElements)
            throw new EvaluationError(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, LocationInfo.From(sizesArgument.Syntax),
                $"Split: the sizes [{string.Join(", ", sizes.Values)}] add up to {Kernels.SizeMath.Format(sum)}, more than any dimension can have"));
        int total = (int)sum, start = 0;
        var parts = new int[sizes.Values.Length];
        for (int i = 0; i < parts.Length; start += sizes.Values[i], i++)
            parts[i] = ((TensorValue)Record(OpKind.Slice, invocation, new[] { receiver }, settings: new SliceSettings(dimension, start, start + sizes.Values[i], SliceOrigin.Split, SplitTotal: total))).Id;
        return new TensorsValue(parts);
    }

    /// <summary>Tensor.Concat.</summary>
    private Value Concat(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation other = Arg(invocation, "other")!;
        return Record(OpKind.Concat, invocation, new[] { receiver, TensorId(Eval(other.Value, env), other.Value) }, settings: new AxisSettings(IntArg(Arg(invocation, "dimension")!, env)));
    }

    /// <summary>Tensor.MatMul.</summary>
    private Value MatMul(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation other = Arg(invocation, "other")!;
        return Record(OpKind.MatMul, invocation, new[] { receiver, TensorId(Eval(other.Value, env), other.Value) });
    }

    /// <summary>Tensor.ScaledDotProductAttention.</summary>
    private Value ScaledDotProductAttention(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation key = Arg(invocation, "key")!, value = Arg(invocation, "value")!;
        var inputs = new List<int> { receiver, TensorId(Eval(key.Value, env), key.Value), TensorId(Eval(value.Value, env), value.Value) };
        int? mask = OptionalTensor(Arg(invocation, "mask"), env);
        if (mask is not null) inputs.Add(mask.Value);
        return Record(OpKind.Attention, invocation, inputs.ToArray(), settings: new AttentionSettings(Heads: 0, Causal: BoolArg(Arg(invocation, "causal"), env)));
    }

    /// <summary>Tensor.MultiHeadAttention.</summary>
    private Value MultiHeadAttention(IInvocationOperation invocation, Env env, int receiver)
    {
        // Desugared at build time into the ops it is made of: the input projection (PyTorch's in_proj_weight
        // and in_proj_bias), the attention core per head, and the output projection (out_proj).
        IArgumentOperation name = Arg(invocation, "name")!, heads = Arg(invocation, "heads")!;
        string layer = ToStringValue(Eval(name.Value, env), name);
        int headCount = ToInt(Eval(heads.Value, env), heads);
        int? mask = OptionalTensor(Arg(invocation, "mask"), env);
        bool causal = BoolArg(Arg(invocation, "causal"), env);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        var qkv = (TensorValue)Record(OpKind.Linear, invocation, new[] { receiver }, layer + ".in_proj", nameLocation: nameLocation);
        _ops[qkv.Id] = _ops[qkv.Id] with { WeightName = layer + ".in_proj_weight", BiasName = layer + ".in_proj_bias" };
        int[] coreInputs = mask is null ? new[] { qkv.Id } : new[] { qkv.Id, mask.Value };
        var core = (TensorValue)Record(OpKind.AttentionCore, invocation, coreInputs, layer, settings: new AttentionSettings(headCount, causal));
        return Record(OpKind.Linear, invocation, new[] { core.Id }, layer + ".out_proj", nameLocation: nameLocation);
    }

    /// <summary>Tensor.LayerNorm.</summary>
    private Value LayerNorm(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!, epsilon = Arg(invocation, "epsilon")!;
        string weight = ToStringValue(Eval(name.Value, env), name);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        return Record(OpKind.LayerNorm, invocation, new[] { receiver }, weight, ToFloat(Eval(epsilon.Value, env), epsilon), nameLocation: nameLocation);
    }

    /// <summary>Tensor.RmsNorm.</summary>
    private Value RmsNorm(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation name = Arg(invocation, "name")!, epsilon = Arg(invocation, "epsilon")!;
        string weight = ToStringValue(Eval(name.Value, env), name);
        LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
        return Record(OpKind.RmsNorm, invocation, new[] { receiver }, weight, ToFloat(Eval(epsilon.Value, env), epsilon), nameLocation: nameLocation);
    }

    /// <summary>Tensor.Rotary.</summary>
    private Value Rotary(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation headSize = Arg(invocation, "headSize")!, theta = Arg(invocation, "theta")!;
        float baseValue = ToFloat(Eval(theta.Value, env), theta);
        if (!(baseValue > 0) || float.IsPositiveInfinity(baseValue)) throw Unsupported(invocation, $"Rotary: θ must be a positive number, not {baseValue}");
        return Record(OpKind.Rotary, invocation, new[] { receiver }, settings: new RotarySettings(ToInt(Eval(headSize.Value, env), headSize), baseValue));
    }

    /// <summary>Tensor.CachedAttention.</summary>
    private Value CachedAttention(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation key = Arg(invocation, "key")!, value = Arg(invocation, "value")!, heads = Arg(invocation, "heads")!, kvHeads = Arg(invocation, "kvHeads")!;
        int[] inputs = { receiver, TensorId(Eval(key.Value, env), key.Value), TensorId(Eval(value.Value, env), value.Value) };
        return Record(OpKind.CachedAttention, invocation, inputs, settings: new CachedAttentionSettings(ToInt(Eval(heads.Value, env), heads), ToInt(Eval(kvHeads.Value, env), kvHeads)));
    }

    /// <summary>Tensor.Gelu.</summary>
    private Value Gelu(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation approximate = Arg(invocation, "approximate")!;
        int form = ToInt(Eval(approximate.Value, env), approximate);
        return Record(form == 1 ? OpKind.GeluTanh : OpKind.Gelu, invocation, new[] { receiver });
    }

    /// <summary>Tensor.Reshape.</summary>
    private Value Reshape(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation shape = Arg(invocation, "sampleShape")!;
        if (Eval(shape.Value, env) is not IntsValue dims) throw Unsupported(shape, "Reshape needs constant dimensions");
        return Record(OpKind.Reshape, invocation, new[] { receiver }, settings: new ReshapeSettings(new EquatableArray<int>(dims.Values)));
    }

    /// <summary>Tensor.Add, Tensor.Mul: of another tensor (broadcasting) or of a constant (a scalar step).</summary>
    private Value AddOrMul(IInvocationOperation invocation, Env env, int receiver)
    {
        IMethodSymbol method = invocation.TargetMethod;
        bool add = method.Name == "Add";
        IArgumentOperation operand = invocation.Arguments[0];
        if (method.Parameters.Length == 1 && SymbolEqualityComparer.Default.Equals(method.Parameters[0].Type, _tensorType))
            return Record(add ? OpKind.Add : OpKind.Mul, invocation, new[] { receiver, TensorId(Eval(operand.Value, env), operand.Value) });
        return Record(add ? OpKind.AddScalar : OpKind.MulScalar, invocation, new[] { receiver }, scalar: ToFloat(Eval(operand.Value, env), operand));
    }

    /// <summary>Tensor.Elu.</summary>
    private Value Elu(IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation alpha = Arg(invocation, "alpha")!;
        return Record(OpKind.Elu, invocation, new[] { receiver }, scalar: ToFloat(Eval(alpha.Value, env), alpha));
    }

    /// <summary>Tensor.Maximum, Tensor.Minimum: of another tensor, broadcasting.</summary>
    private Value Pairwise(OpKind kind, IInvocationOperation invocation, Env env, int receiver)
    {
        IArgumentOperation other = Arg(invocation, "other")!;
        return Record(kind, invocation, new[] { receiver, TensorId(Eval(other.Value, env), other.Value) });
    }
}
