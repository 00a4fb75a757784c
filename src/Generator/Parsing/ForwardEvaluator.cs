using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Parsing;

/// <summary>
/// A small partial evaluator over a Forward body's <see cref="IOperation"/> tree: it runs the C# the way the
/// eager reference would, but instead of computing tensors it records the ops it meets. Locals, constants,
/// interpolated weight names, constant-bound loops and calls to static helper methods are executed at build
/// time, so the recorded graph is straight-line. Anything else is reported at the construct (MC0006).
/// Work is bounded (call depth, loop steps, op count), so no input can make the generator hang.
/// </summary>
internal sealed class ForwardEvaluator
{
    private const int MaxCallDepth = 32;
    private const int MaxSteps = 1_000_000;
    private const int MaxOps = 20_000;

    private readonly Compilation _compilation;
    private readonly INamedTypeSymbol _tensorType;
    private readonly CancellationToken _cancellationToken;
    private readonly List<RecordedOp> _ops = new();
    private int _depth;
    private int _steps;

    public ForwardEvaluator(Compilation compilation, INamedTypeSymbol tensorType, CancellationToken cancellationToken)
    {
        _compilation = compilation;
        _tensorType = tensorType;
        _cancellationToken = cancellationToken;
    }

    public sealed class Outcome
    {
        public Outcome(List<RecordedOp> ops, int output, DiagnosticInfo? diagnostic)
        {
            Ops = ops; Output = output; Diagnostic = diagnostic;
        }

        public List<RecordedOp> Ops { get; }
        public int Output { get; }
        public DiagnosticInfo? Diagnostic { get; }
    }

    // ---- values the evaluator computes with ----

    private abstract class Value { }

    private sealed class TensorValue : Value
    {
        public TensorValue(int id) => Id = id;
        public int Id { get; }
    }

    private sealed class ConstantValue : Value
    {
        public ConstantValue(object? constant) => Constant = constant;
        public object? Constant { get; }
    }

    private sealed class IntsValue : Value
    {
        public IntsValue(int[] values) => Values = values;
        public int[] Values { get; }
    }

    /// <summary>The parts of a <c>Split</c>: an array of tensors, read by constant index.</summary>
    private sealed class TensorsValue : Value
    {
        public TensorsValue(int[] ids) => Ids = ids;
        public int[] Ids { get; }
    }

    private sealed class EvaluationError : Exception
    {
        public EvaluationError(DiagnosticInfo info) => Info = info;
        public DiagnosticInfo Info { get; }
    }

    private sealed class Env
    {
        private readonly Dictionary<ISymbol, Value> _values = new(SymbolEqualityComparer.Default);
        public Value? Get(ISymbol symbol) => _values.TryGetValue(symbol, out Value? v) ? v : null;
        public void Set(ISymbol symbol, Value value) => _values[symbol] = value;
    }

    public Outcome Evaluate(IMethodSymbol forward, MethodDeclarationSyntax syntax, IParameterSymbol input)
    {
        _ops.Add(new RecordedOp(0, OpKind.Input, EquatableArray<int>.Empty, input.Name, 0f, null,
            LocationInfo.From(input.Locations.FirstOrDefault()), null, input.Name));
        var env = new Env();
        env.Set(input, new TensorValue(0));
        try
        {
            Value result = EvaluateBody(syntax, env, forward.Name);
            if (result is not TensorValue tensor)
                throw Unsupported(syntax, "Forward must return a Tensor computed from its input");
            return new Outcome(_ops, tensor.Id, null);
        }
        catch (EvaluationError e)
        {
            return new Outcome(_ops, -1, e.Info);
        }
        catch (OverflowException)
        {
            // A backstop: arithmetic is checked, and the places that can overflow say where; anything else points at Forward.
            return new Outcome(_ops, -1, Unsupported(syntax.Identifier.Parent ?? syntax, "a size or index computed in Forward overflows an int").Info);
        }
    }

    private Value EvaluateBody(SyntaxNode declaration, Env env, string name)
    {
        SemanticModel model = _compilation.GetSemanticModel(declaration.SyntaxTree);
        IOperation? operation = model.GetOperation(declaration, _cancellationToken);
        IOperation? body = operation switch
        {
            IMethodBodyOperation m => (IOperation?)m.BlockBody ?? m.ExpressionBody,
            ILocalFunctionOperation f => f.Body ?? f.IgnoredBody,
            _ => null,
        };
        if (body is null) throw Unsupported(declaration, $"'{name}' has no body the compiler can read");
        Value? result = Execute(body, env);
        return result ?? throw Unsupported(declaration, $"'{name}' must return a value on every path");
    }

    // ---- statements ----

    /// <summary>Runs a statement; returns the value of a <c>return</c>, or null to go on.</summary>
    private Value? Execute(IOperation statement, Env env)
    {
        Step(statement);
        switch (statement)
        {
            case IBlockOperation block:
                foreach (IOperation s in block.Operations)
                {
                    Value? returned = Execute(s, env);
                    if (returned is not null) return returned;
                }
                return null;
            case IReturnOperation ret when ret.ReturnedValue is not null:
                return Eval(ret.ReturnedValue, env);
            case IVariableDeclarationGroupOperation group:
                foreach (IVariableDeclarationOperation declaration in group.Declarations)
                {
                    foreach (IVariableDeclaratorOperation declarator in declaration.Declarators)
                    {
                        IVariableInitializerOperation? init = declarator.Initializer ?? declaration.Initializer;
                        if (init is null) throw Unsupported(declarator, "give the local a value where it is declared");
                        env.Set(declarator.Symbol, Eval(init.Value, env));
                    }
                }
                return null;
            case IExpressionStatementOperation expression:
                ExecuteEffect(expression.Operation, env);
                return null;
            case IForLoopOperation loop:
                return ExecuteFor(loop, env);
            case IEmptyOperation:
                return null;
            default:
                throw Unsupported(statement, "only local declarations, assignments, constant-bound for loops and return are supported");
        }
    }

    private void ExecuteEffect(IOperation operation, Env env)
    {
        switch (operation)
        {
            case ISimpleAssignmentOperation assignment when Variable(assignment.Target) is { } target:
                env.Set(target, Eval(assignment.Value, env));
                return;
            case ICompoundAssignmentOperation compound when Variable(compound.Target) is { } target:
                env.Set(target, Arithmetic(compound.OperatorKind, Eval(compound.Target, env), Eval(compound.Value, env), compound));
                return;
            case IIncrementOrDecrementOperation step when Variable(step.Target) is { } target:
                env.Set(target, Arithmetic(step.Kind == OperationKind.Increment ? BinaryOperatorKind.Add : BinaryOperatorKind.Subtract,
                    new ConstantValue(ToInt(Eval(step.Target, env), step)), new ConstantValue(1), step));
                return;
            default:
                throw Unsupported(operation, "only assignments to locals and parameters are supported");
        }
    }

    /// <summary>The local or parameter an assignment writes, if it writes one.</summary>
    private static ISymbol? Variable(IOperation target) => target switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        _ => null,
    };

    private Value? ExecuteFor(IForLoopOperation loop, Env env)
    {
        foreach (IOperation before in loop.Before) Execute(before, env);
        while (true)
        {
            if (loop.Condition is not null)
            {
                Value condition = Eval(loop.Condition, env);
                if (condition is not ConstantValue { Constant: bool go })
                    throw Unsupported(loop.Condition, "a loop condition must be known at build time");
                if (!go) return null;
            }
            Value? returned = Execute(loop.Body, env);
            if (returned is not null) return returned;
            foreach (IOperation bottom in loop.AtLoopBottom) Execute(bottom, env);
        }
    }

    // ---- expressions ----

    private Value Eval(IOperation operation, Env env)
    {
        Step(operation);
        if (operation.ConstantValue.HasValue) return new ConstantValue(operation.ConstantValue.Value);
        switch (operation)
        {
            case IConversionOperation conversion:
                return Convert(Eval(conversion.Operand, env), conversion.Type, conversion);
            case IParameterReferenceOperation parameter:
                return env.Get(parameter.Parameter) ?? throw Unsupported(operation, "this parameter has no value known at build time");
            case ILocalReferenceOperation local:
                return Read(local, env);
            case IInvocationOperation invocation:
                return Invoke(invocation, env);
            case IBinaryOperation binary:
                return Binary(binary, env);
            case IInterpolatedStringOperation interpolated:
                return Interpolate(interpolated, env);
            case IArrayCreationOperation { Initializer: not null } array:
                return new IntsValue(array.Initializer.ElementValues.Select(e => ToInt(Eval(e, env), e)).ToArray());
            case IParenthesizedOperation parenthesized:
                return Eval(parenthesized.Operand, env);
            case IArrayElementReferenceOperation element when element.Indices.Length == 1:
            {
                if (Eval(element.ArrayReference, env) is not TensorsValue parts)
                    throw Unsupported(element, "only the parts of a Split can be indexed");
                int index = ToInt(Eval(element.Indices[0], env), element.Indices[0]);
                if (index < 0 || index >= parts.Ids.Length)
                    throw Unsupported(element.Indices[0], $"the Split has {parts.Ids.Length} parts; there is no part {index}");
                return new TensorValue(parts.Ids[index]);
            }
            default:
                throw Unsupported(operation, "only Tensor method calls, + and * on tensors, locals, constants and calls to static helper methods are supported");
        }
    }

    private Value Read(ILocalReferenceOperation local, Env env) =>
        env.Get(local.Local) ?? throw Unsupported(local, "this local has no value known at build time");

    private Value Invoke(IInvocationOperation invocation, Env env)
    {
        IMethodSymbol method = invocation.TargetMethod;
        if (!method.IsStatic && SymbolEqualityComparer.Default.Equals(method.ContainingType, _tensorType))
            return TensorMethod(invocation, env);

        SyntaxNode? declaration = method.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_cancellationToken);
        if (!method.IsStatic || declaration is not (MethodDeclarationSyntax or LocalFunctionStatementSyntax) || method.IsGenericMethod)
            throw Unsupported(invocation, "only Tensor methods and non-generic static helper methods with a body can be called");
        if (_depth >= MaxCallDepth)
            throw Unsupported(invocation, $"helper calls nest deeper than {MaxCallDepth} (is the helper recursive?)");

        var callee = new Env();
        foreach (IArgumentOperation argument in invocation.Arguments)
            callee.Set(argument.Parameter!, Eval(argument.Value, env));
        _depth++;
        try
        {
            return EvaluateBody(declaration, callee, method.Name);
        }
        finally
        {
            _depth--;
        }
    }

    private Value TensorMethod(IInvocationOperation invocation, Env env)
    {
        IMethodSymbol method = invocation.TargetMethod;
        int receiver = TensorId(Eval(invocation.Instance!, env), invocation.Instance!);
        IArgumentOperation? Arg(string name) => invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == name);
        bool tensorArgument = method.Parameters.Length == 1 && SymbolEqualityComparer.Default.Equals(method.Parameters[0].Type, _tensorType);

        switch (method.Name)
        {
            case "Linear":
            case "Parameter":
            {
                IArgumentOperation name = Arg("name")!;
                string weight = ToStringValue(Eval(name.Value, env), name);
                LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
                return method.Name == "Linear"
                    ? Record(OpKind.Linear, invocation, new[] { receiver }, weight, nameLocation: nameLocation)
                    : Record(OpKind.Parameter, invocation, Array.Empty<int>(), weight, nameLocation: nameLocation);
            }
            case "Relu": return Record(OpKind.Relu, invocation, new[] { receiver });
            case "Sigmoid": return Record(OpKind.Sigmoid, invocation, new[] { receiver });
            case "Tanh": return Record(OpKind.Tanh, invocation, new[] { receiver });
            case "Softmax": return Record(OpKind.Softmax, invocation, new[] { receiver });
            case "LogSoftmax": return Record(OpKind.LogSoftmax, invocation, new[] { receiver });
            case "Flatten": return Record(OpKind.Flatten, invocation, new[] { receiver });
            case "Silu": return Record(OpKind.Silu, invocation, new[] { receiver });
            case "Erf": return Record(OpKind.Erf, invocation, new[] { receiver });
            case "Sqrt": return Record(OpKind.Sqrt, invocation, new[] { receiver });
            case "Exp": return Record(OpKind.Exp, invocation, new[] { receiver });
            case "Reciprocal": return Record(OpKind.Reciprocal, invocation, new[] { receiver });
            case "LeakyRelu":
            {
                IArgumentOperation slope = Arg("slope")!;
                return Record(OpKind.LeakyRelu, invocation, new[] { receiver }, scalar: ToFloat(Eval(slope.Value, env), slope));
            }
            case "Clamp":
            {
                // Two element-wise steps, each with its constant: both fuse into the producer's epilogue.
                IArgumentOperation min = Arg("min")!, max = Arg("max")!;
                float low = ToFloat(Eval(min.Value, env), min), high = ToFloat(Eval(max.Value, env), max);
                if (!(low <= high)) throw Unsupported(invocation, $"Clamp: min {low} is above max {high}");
                var lower = (TensorValue)Record(OpKind.ClampMin, invocation, new[] { receiver }, scalar: low);
                return Record(OpKind.ClampMax, invocation, new[] { lower.Id }, scalar: high);
            }
            case "GlobalAvgPool": return Record(OpKind.GlobalAvgPool, invocation, new[] { receiver });
            case "Embedding":
            {
                IArgumentOperation name = Arg("name")!;
                string table = ToStringValue(Eval(name.Value, env), name);
                return Record(OpKind.Embedding, invocation, new[] { receiver }, table, nameLocation: name.IsImplicit ? null : LocationInfo.From(name.Syntax));
            }
            case "Mean":
            {
                IArgumentOperation dimension = Arg("dimension")!;
                return Record(OpKind.Mean, invocation, new[] { receiver }, settings: new AxisSettings(ToInt(Eval(dimension.Value, env), dimension)));
            }
            case "BatchNorm":
            {
                IArgumentOperation name = Arg("name")!, epsilon = Arg("epsilon")!;
                string norm = ToStringValue(Eval(name.Value, env), name);
                LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
                return Record(OpKind.BatchNorm, invocation, new[] { receiver }, norm, ToFloat(Eval(epsilon.Value, env), epsilon), nameLocation: nameLocation);
            }
            case "Conv2d":
            case "Conv1d":
            {
                IArgumentOperation name = Arg("name")!;
                string weight = ToStringValue(Eval(name.Value, env), name);
                int[] values = new[] { "stride", "padding", "dilation", "groups" }.Select(a => ToInt(Eval(Arg(a)!.Value, env), Arg(a)!)).ToArray();
                var settings = new ConvSettings(Stride: values[0], Padding: values[1], Dilation: values[2], Groups: values[3]);
                LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
                return Record(method.Name == "Conv2d" ? OpKind.Conv2d : OpKind.Conv1d, invocation, new[] { receiver }, weight, settings: settings, nameLocation: nameLocation);
            }
            case "MaxPool2d":
            case "AvgPool2d":
            {
                int[] values = new[] { "kernel", "stride", "padding" }.Select(a => ToInt(Eval(Arg(a)!.Value, env), Arg(a)!)).ToArray();
                // A stride of 0 means the window's size, as PyTorch's default stride.
                var settings = new PoolSettings(Window: values[0], Stride: values[1] == 0 ? values[0] : values[1], Padding: values[2]);
                return Record(method.Name == "MaxPool2d" ? OpKind.MaxPool2d : OpKind.AvgPool2d, invocation, new[] { receiver }, settings: settings);
            }
            case "Transpose":
                return Record(OpKind.Transpose, invocation, new[] { receiver }, settings: new TransposeSettings(IntArg(Arg("dim0")!, env), IntArg(Arg("dim1")!, env)));
            case "Unsqueeze":
                return Record(OpKind.Unsqueeze, invocation, new[] { receiver }, settings: new AxisSettings(IntArg(Arg("dimension")!, env)));
            case "Squeeze":
                return Record(OpKind.Squeeze, invocation, new[] { receiver }, settings: new AxisSettings(IntArg(Arg("dimension")!, env)));
            case "Permute":
            {
                IArgumentOperation dims = Arg("dims")!;
                if (Eval(dims.Value, env) is not IntsValue order) throw Unsupported(dims, "Permute needs constant dimensions");
                return Record(OpKind.Permute, invocation, new[] { receiver }, settings: new PermuteSettings(new EquatableArray<int>(order.Values)));
            }
            case "Slice":
                return Record(OpKind.Slice, invocation, new[] { receiver },
                    settings: new SliceSettings(IntArg(Arg("dimension")!, env), IntArg(Arg("start")!, env), IntArg(Arg("end")!, env), SliceOrigin.Exact));
            case "Split":
            {
                int dimension = IntArg(Arg("dimension")!, env);
                IArgumentOperation sizesArgument = Arg("sizes")!;
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
            case "Concat":
            {
                IArgumentOperation other = Arg("other")!;
                return Record(OpKind.Concat, invocation, new[] { receiver, TensorId(Eval(other.Value, env), other.Value) }, settings: new AxisSettings(IntArg(Arg("dimension")!, env)));
            }
            case "MatMul":
            {
                IArgumentOperation other = Arg("other")!;
                return Record(OpKind.MatMul, invocation, new[] { receiver, TensorId(Eval(other.Value, env), other.Value) });
            }
            case "ScaledDotProductAttention":
            {
                IArgumentOperation key = Arg("key")!, value = Arg("value")!;
                var inputs = new List<int> { receiver, TensorId(Eval(key.Value, env), key.Value), TensorId(Eval(value.Value, env), value.Value) };
                int? mask = OptionalTensor(Arg("mask"), env);
                if (mask is not null) inputs.Add(mask.Value);
                return Record(OpKind.Attention, invocation, inputs.ToArray(), settings: new AttentionSettings(Heads: 0, Causal: BoolArg(Arg("causal"), env)));
            }
            case "MultiHeadAttention":
            {
                // Desugared at build time into the ops it is made of: the input projection (PyTorch's in_proj_weight
                // and in_proj_bias), the attention core per head, and the output projection (out_proj).
                IArgumentOperation name = Arg("name")!, heads = Arg("heads")!;
                string layer = ToStringValue(Eval(name.Value, env), name);
                int headCount = ToInt(Eval(heads.Value, env), heads);
                int? mask = OptionalTensor(Arg("mask"), env);
                bool causal = BoolArg(Arg("causal"), env);
                LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
                var qkv = (TensorValue)Record(OpKind.Linear, invocation, new[] { receiver }, layer + ".in_proj", nameLocation: nameLocation);
                _ops[qkv.Id] = _ops[qkv.Id] with { WeightName = layer + ".in_proj_weight", BiasName = layer + ".in_proj_bias" };
                int[] coreInputs = mask is null ? new[] { qkv.Id } : new[] { qkv.Id, mask.Value };
                var core = (TensorValue)Record(OpKind.AttentionCore, invocation, coreInputs, layer, settings: new AttentionSettings(headCount, causal));
                return Record(OpKind.Linear, invocation, new[] { core.Id }, layer + ".out_proj", nameLocation: nameLocation);
            }
            case "Dropout": return Record(OpKind.Dropout, invocation, new[] { receiver });
            case "LayerNorm":
            {
                IArgumentOperation name = Arg("name")!, epsilon = Arg("epsilon")!;
                string weight = ToStringValue(Eval(name.Value, env), name);
                LocationInfo? nameLocation = name.IsImplicit ? null : LocationInfo.From(name.Syntax);
                return Record(OpKind.LayerNorm, invocation, new[] { receiver }, weight, ToFloat(Eval(epsilon.Value, env), epsilon), nameLocation: nameLocation);
            }
            case "Gelu":
            {
                IArgumentOperation approximate = Arg("approximate")!;
                int form = ToInt(Eval(approximate.Value, env), approximate);
                return Record(form == 1 ? OpKind.GeluTanh : OpKind.Gelu, invocation, new[] { receiver });
            }
            case "Add" when tensorArgument:
            case "Mul" when tensorArgument:
            {
                IArgumentOperation other = invocation.Arguments[0];
                int right = TensorId(Eval(other.Value, env), other.Value);
                return Record(method.Name == "Add" ? OpKind.Add : OpKind.Mul, invocation, new[] { receiver, right });
            }
            case "Add":
            case "Mul":
            {
                IArgumentOperation value = invocation.Arguments[0];
                float scalar = ToFloat(Eval(value.Value, env), value);
                return Record(method.Name == "Add" ? OpKind.AddScalar : OpKind.MulScalar, invocation, new[] { receiver }, scalar: scalar);
            }
            case "Reshape":
            {
                IArgumentOperation shape = Arg("sampleShape")!;
                if (Eval(shape.Value, env) is not IntsValue dims) throw Unsupported(shape, "Reshape needs constant dimensions");
                return Record(OpKind.Reshape, invocation, new[] { receiver }, settings: new ReshapeSettings(new EquatableArray<int>(dims.Values)));
            }
            default:
                throw Unsupported(invocation, $"Tensor.{method.Name} cannot be compiled yet");
        }
    }

    private Value Binary(IBinaryOperation binary, Env env)
    {
        if (binary.OperatorMethod is { } op && SymbolEqualityComparer.Default.Equals(op.ContainingType, _tensorType))
        {
            Value left = Eval(binary.LeftOperand, env), right = Eval(binary.RightOperand, env);
            bool add = binary.OperatorKind == BinaryOperatorKind.Add;
            if (left is TensorValue l && right is TensorValue r)
                return Record(add ? OpKind.Add : OpKind.Mul, binary, new[] { l.Id, r.Id });
            if (left is TensorValue lt)
                return Record(add ? OpKind.AddScalar : OpKind.MulScalar, binary, new[] { lt.Id }, scalar: ToFloat(right, binary.RightOperand));
            if (right is TensorValue rt)
                return Record(add ? OpKind.AddScalar : OpKind.MulScalar, binary, new[] { rt.Id }, scalar: ToFloat(left, binary.LeftOperand));
        }
        return Arithmetic(binary.OperatorKind, Eval(binary.LeftOperand, env), Eval(binary.RightOperand, env), binary);
    }

    /// <summary>Build-time arithmetic on constants: what loop counters and weight names need.</summary>
    private Value Arithmetic(BinaryOperatorKind kind, Value left, Value right, IOperation at)
    {
        if (left is ConstantValue { Constant: string ls } && kind == BinaryOperatorKind.Add)
            return new ConstantValue(ls + Format(right, at));
        if (left is ConstantValue { Constant: int a } && right is ConstantValue { Constant: int b })
        {
            // Checked (the generator builds with overflow checks): a size that wraps is refused here, where it is written.
            long wide = kind switch
            {
                BinaryOperatorKind.Add => (long)a + b,
                BinaryOperatorKind.Subtract => (long)a - b,
                BinaryOperatorKind.Multiply => (long)a * b,
                BinaryOperatorKind.Divide when b != 0 => (long)a / b,
                _ => 0,
            };
            if (wide is > int.MaxValue or < int.MinValue)
                throw Unsupported(at, $"the result, {wide}, does not fit an int");
            switch (kind)
            {
                case BinaryOperatorKind.Add: return new ConstantValue(a + b);
                case BinaryOperatorKind.Subtract: return new ConstantValue(a - b);
                case BinaryOperatorKind.Multiply: return new ConstantValue(a * b);
                case BinaryOperatorKind.Divide when b != 0: return new ConstantValue(a / b);
                case BinaryOperatorKind.Remainder when b != 0: return new ConstantValue(b == -1 ? 0 : a % b);
                case BinaryOperatorKind.LessThan: return new ConstantValue(a < b);
                case BinaryOperatorKind.LessThanOrEqual: return new ConstantValue(a <= b);
                case BinaryOperatorKind.GreaterThan: return new ConstantValue(a > b);
                case BinaryOperatorKind.GreaterThanOrEqual: return new ConstantValue(a >= b);
                case BinaryOperatorKind.Equals: return new ConstantValue(a == b);
                case BinaryOperatorKind.NotEquals: return new ConstantValue(a != b);
            }
        }
        if (left is ConstantValue && right is ConstantValue && IsNumber(left) && IsNumber(right))
        {
            float x = ToFloat(left, at), y = ToFloat(right, at);
            switch (kind)
            {
                case BinaryOperatorKind.Add: return new ConstantValue(x + y);
                case BinaryOperatorKind.Subtract: return new ConstantValue(x - y);
                case BinaryOperatorKind.Multiply: return new ConstantValue(x * y);
                case BinaryOperatorKind.Divide: return new ConstantValue(x / y);
            }
        }
        throw Unsupported(at, "this operator is not supported on these operands");
    }

    private Value Interpolate(IInterpolatedStringOperation interpolated, Env env)
    {
        var text = new StringBuilder();
        foreach (IInterpolatedStringContentOperation part in interpolated.Parts)
        {
            switch (part)
            {
                case IInterpolatedStringTextOperation literal:
                    text.Append(literal.Text.ConstantValue.Value as string);
                    break;
                case IInterpolationOperation { Alignment: null, FormatString: null } hole:
                    text.Append(Format(Eval(hole.Expression, env), hole.Expression));
                    break;
                default:
                    throw Unsupported(part, "interpolation holes with alignment or format strings are not supported");
            }
        }
        return new ConstantValue(text.ToString());
    }

    private Value Convert(Value value, ITypeSymbol? type, IOperation at)
    {
        if (value is not ConstantValue) return value;
        return type?.SpecialType switch
        {
            SpecialType.System_Single => new ConstantValue(ToFloat(value, at)),
            SpecialType.System_Double => new ConstantValue((double)ToFloat(value, at)),
            SpecialType.System_Int32 => new ConstantValue(ToInt(value, at)),
            _ => value,
        };
    }

    // ---- helpers ----

    private Value Record(OpKind kind, IOperation at, int[] inputs, string? name = null, float scalar = 0f, OpSettings? settings = null,
        LocationInfo? nameLocation = null)
    {
        if (_ops.Count >= MaxOps) throw Unsupported(at, $"the model has more than {MaxOps} ops");
        (LocationInfo? location, string text) = CallSite(at.Syntax);
        _ops.Add(new RecordedOp(_ops.Count, kind, new EquatableArray<int>(inputs), name, scalar, settings, location, nameLocation, text));
        return new TensorValue(_ops.Count - 1);
    }

    /// <summary>For <c>x.Linear("fc1")</c>, the span <c>Linear("fc1")</c>: where a person looks for the call.</summary>
    private static (LocationInfo?, string) CallSite(SyntaxNode syntax)
    {
        TextSpan span = syntax.Span;
        if (syntax is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax member })
            span = TextSpan.FromBounds(member.Name.SpanStart, syntax.Span.End);
        string text = syntax.SyntaxTree.GetText().ToString(span);
        text = string.Join(" ", text.Split(new[] { ' ', '\t', '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries));
        return (LocationInfo.From(syntax.SyntaxTree, span), text);
    }

    private int IntArg(IArgumentOperation argument, Env env) => ToInt(Eval(argument.Value, env), argument);

    /// <summary>A <c>bool</c> argument known at build time (false when the parameter is absent).</summary>
    private bool BoolArg(IArgumentOperation? argument, Env env) => argument is null ? false
        : Eval(argument.Value, env) is ConstantValue { Constant: bool b } ? b
        : throw Unsupported(argument, "a bool known at build time is expected here");

    /// <summary>An optional Tensor argument: its node, or null when it is <c>null</c> (or left out).</summary>
    private int? OptionalTensor(IArgumentOperation? argument, Env env) => argument is null ? null
        : Eval(argument.Value, env) switch
        {
            TensorValue t => t.Id,
            ConstantValue { Constant: null } => null,
            _ => throw Unsupported(argument, "a Tensor or null is expected here"),
        };

    private int TensorId(Value value, IOperation at) =>
        value is TensorValue t ? t.Id : throw Unsupported(at, "a Tensor is expected here");

    private static bool IsNumber(Value v) => v is ConstantValue { Constant: int or float or double or long };

    private int ToInt(Value value, IOperation at) => value switch
    {
        ConstantValue { Constant: int i } => i,
        ConstantValue { Constant: long l } when l >= int.MinValue && l <= int.MaxValue => (int)l,
        _ => throw Unsupported(at, "an integer known at build time is expected here"),
    };

    private float ToFloat(Value value, IOperation at) => value switch
    {
        ConstantValue { Constant: float f } => f,
        ConstantValue { Constant: double d } => (float)d,
        ConstantValue { Constant: int i } => i,
        ConstantValue { Constant: long l } => l,
        _ => throw Unsupported(at, "a number known at build time is expected here"),
    };

    private string ToStringValue(Value value, IOperation at) =>
        value is ConstantValue { Constant: string s } ? s : throw Unsupported(at, "a string known at build time is expected here");

    private string Format(Value value, IOperation at) => value switch
    {
        ConstantValue { Constant: string s } => s,
        ConstantValue { Constant: IFormattable f } => f.ToString(null, CultureInfo.InvariantCulture),
        ConstantValue { Constant: bool b } => b ? "True" : "False",
        _ => throw Unsupported(at, "only constants can be formatted into a string"),
    };

    private void Step(IOperation at)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (++_steps > MaxSteps) throw Unsupported(at, $"evaluating Forward took more than {MaxSteps} steps (an unbounded loop?)");
    }

    private static EvaluationError Unsupported(IOperation operation, string reason) => Unsupported(operation.Syntax, reason);

    private static EvaluationError Unsupported(SyntaxNode syntax, string reason)
    {
        string text = string.Join(" ", syntax.ToString().Split(new[] { ' ', '\t', '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries));
        if (text.Length > 80) text = text.Substring(0, 77) + "...";
        return new EvaluationError(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(syntax), text, reason));
    }
}
