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
using ModelCompiler.Generator.Ops;

namespace ModelCompiler.Generator.Parsing;

/// <summary>
/// A small partial evaluator over a Forward body's <see cref="IOperation"/> tree: it runs the C# the way the
/// eager reference would, but instead of computing tensors it records the ops it meets. Locals, constants,
/// interpolated weight names, constant-bound loops and calls to static helper methods are executed at build
/// time, so the recorded graph is straight-line. Anything else is reported at the construct (MC0006).
/// Work is bounded (call depth, loop steps, op count), so no input can make the generator hang.
/// </summary>
internal sealed partial class ForwardEvaluator
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
        // Ops recorded by the method's name alone are the catalogue's; the DSL table (ForwardEvaluator.Methods) reads the settings of the rest.
        if (OpCatalogue.ByMethod(method.Name) is { } plain) return Record(plain, invocation, new[] { receiver });
        if (!Methods.TryGetValue(method.Name, out MethodRule? rule))
            throw Unsupported(invocation, $"Tensor.{method.Name} cannot be compiled yet");
        return rule(this, invocation, env, receiver);
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
