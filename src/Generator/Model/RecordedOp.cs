using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>
/// One op of a model's Forward body, as the partial evaluator found it: what it is, what it consumes,
/// its constant arguments, and where in the source it came from. Shapes are not known yet (they need the weights).
/// </summary>
/// <param name="Id">Index in <see cref="ModelDeclaration.Ops"/>; inputs always have smaller ids.</param>
/// <param name="Name">Weight name (Linear, Parameter).</param>
/// <param name="Scalar">Constant operand (AddScalar, MulScalar).</param>
/// <param name="Settings">The op's constant settings by name (convolution, pooling, slicing, …); null for ops without any.</param>
/// <param name="Location">The call, e.g. <c>Linear("fc1")</c>: where shape errors point.</param>
/// <param name="NameLocation">The weight-name argument, when it is written in this call: where a missing weight points.</param>
/// <param name="Text">The call's source text, for comments in the generated code.</param>
internal sealed record RecordedOp(
    int Id,
    OpKind Kind,
    EquatableArray<int> Inputs,
    string? Name,
    float Scalar,
    OpSettings? Settings,
    LocationInfo? Location,
    LocationInfo? NameLocation,
    string Text)
{
    /// <summary>Linear: the weight tensor, when it is not <c>Name.weight</c> (MultiheadAttention's <c>in_proj_weight</c>).</summary>
    public string? WeightName { get; init; }

    /// <summary>Linear: the bias tensor, when it is not <c>Name.bias</c>.</summary>
    public string? BiasName { get; init; }
}
