using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Parsing;

/// <summary>Turns a <c>[CompileModel]</c> class into a <see cref="ModelDeclaration"/> (or diagnostics). Touches symbols; emits nothing.</summary>
internal static class ModelParser
{
    public const string AttributeName = "ModelCompiler.CompileModelAttribute";
    public const string TensorTypeName = "ModelCompiler.Tensor";
    public const string ShapeAttributeName = "ModelCompiler.ShapeAttribute";

    public static ModelDeclaration Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var classSyntax = (ClassDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? classLocation = LocationInfo.From(classSyntax.Identifier.GetLocation());
        string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        string fileName = Path.GetFileName(classSyntax.SyntaxTree.FilePath);

        int quantize = 0;
        string[] floatLayers = Array.Empty<string>();
        string[] dims = Array.Empty<string>();
        LocationInfo? quantizeLocation = null;
        string? calibration = null;
        bool actOrder = true;
        LocationInfo? calibrationLocation = null;
        string? adapter = null;
        LocationInfo? adapterLocation = null;
        int storage = 0;
        ModelDeclaration Result(string? weights = null, LocationInfo? weightsLocation = null, string inputName = "",
            int[]? shape = null, RecordedOp[]? ops = null, int output = -1, ContainingType[]? containing = null) =>
            new()
            {
                Namespace = ns,
                ContainingTypes = new EquatableArray<ContainingType>(containing ?? Array.Empty<ContainingType>()),
                ClassName = type.Name,
                SourceFileName = fileName,
                ClassLocation = classLocation,
                WeightsFile = weights,
                WeightsLocation = weightsLocation,
                WeightsStorage = (WeightsStorage)storage,
                Quantize = (Quantization)quantize,
                FloatLayers = new EquatableArray<string>(floatLayers),
                Dims = new EquatableArray<string>(dims),
                QuantizeLocation = quantizeLocation,
                CalibrationFile = calibration,
                GptqActOrder = actOrder,
                CalibrationLocation = calibrationLocation,
                AdapterFile = adapter,
                AdapterLocation = adapterLocation,
                Inputs = new EquatableArray<ModelValue>(new[] { new ModelValue(inputName, new EquatableArray<int>(shape ?? Array.Empty<int>())) }),
                Ops = new EquatableArray<RecordedOp>(ops ?? Array.Empty<RecordedOp>()),
                Outputs = output < 0 ? EquatableArray<ModelOutput>.Empty : new EquatableArray<ModelOutput>(new[] { new ModelOutput(output, null) }),
                Diagnostics = diagnostics.ToEquatableArray(),
            };

        try
        {
            // The class and every class around it must be partial.
            var containing = new List<ContainingType>();
            // (ModelClassAnalyzer reports these; the generator only stops on them.)
            foreach (SyntaxToken name in ModelClassAnalyzer.NotPartial(classSyntax))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassNotPartial, LocationInfo.From(name.GetLocation()), name.Text));
            for (SyntaxNode? parent = classSyntax.Parent; parent is TypeDeclarationSyntax outer; parent = parent.Parent)
            {
                string keyword = outer is RecordDeclarationSyntax record
                    ? "record " + (record.ClassOrStructKeyword.Text is { Length: > 0 } k ? k : "class")
                    : outer.Keyword.Text;
                containing.Insert(0, new ContainingType(keyword, outer.Identifier.Text + (outer.TypeParameterList?.ToString() ?? "")));
            }
            if (type.IsGenericType)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, classLocation, type.Name, "a model class cannot be generic"));

            // [CompileModel(Weights = "...")]
            AttributeData attribute = context.Attributes[0];
            var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            string? weights = null, onnx = null;
            LocationInfo? weightsLocation = LocationInfo.From(attributeSyntax);
            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                if (named.Key == "Weights" && named.Value.Value is string w) weights = w;
                if (named.Key == "Onnx" && named.Value.Value is string o) onnx = o;
                if (named.Key == "Quantize" && named.Value.Value is int q) quantize = q;
                if (named.Key == "Calibration" && named.Value.Value is string c) calibration = c;
                if (named.Key == "GptqActOrder" && named.Value.Value is bool a) actOrder = a;
                if (named.Key == "Adapter" && named.Value.Value is string lora) adapter = lora;
                if (named.Key == "WeightsStorage" && named.Value.Value is int st) storage = st;
                if (named.Key == "FloatLayers" && named.Value.Kind == TypedConstantKind.Array)
                    floatLayers = named.Value.Values.Select(v => v.Value as string ?? "").ToArray();
                if (named.Key == "Dims" && named.Value.Kind == TypedConstantKind.Array)
                    dims = named.Value.Values.Select(v => v.Value as string ?? "").ToArray();
            }
            AttributeArgumentSyntax? dimsArgument = attributeSyntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == "Dims");
            if (dimsArgument is not null)
            {
                LocationInfo? dimsLocation = LocationInfo.From(dimsArgument);
                if (onnx is null)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, dimsLocation, "Dims",
                        "it fixes the named dimensions of an ONNX file (Onnx = \"…\"); a Forward method declares its input's shape with [Shape(…)]"));
                foreach (string entry in dims)
                {
                    if (ModelDeclaration.DimsEntry(entry) is null)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, dimsLocation, $"Dims entry '{entry}'",
                            "write it as name=value with a positive whole number, e.g. \"height=640\""));
                }
                if (dims.Select(ModelDeclaration.DimsEntry).Where(e => e is not null).GroupBy(e => e!.Value.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OnnxUnsupported, dimsLocation, $"Dims entry '{twice.Key}'", "it is given twice"));
            }
            AttributeArgumentSyntax? quantizeArgument = attributeSyntax?.ArgumentList?.Arguments
                .FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text is "Quantize" or "FloatLayers");
            quantizeLocation = quantizeArgument is not null ? LocationInfo.From(quantizeArgument) : LocationInfo.From(attributeSyntax);
            if (quantize is < (int)Quantization.None or > (int)Quantization.Int4Gptq)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.QuantizationInvalid, quantizeLocation,
                    $"Quantize = {quantize} is not a Quantization this version supports (None, Int8, Int4, Int8Static, Int4Gptq)"));
            AttributeArgumentSyntax? calibrationArgument = attributeSyntax?.ArgumentList?.Arguments
                .FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == "Calibration");
            calibrationLocation = calibrationArgument is not null ? LocationInfo.From(calibrationArgument.Expression) : quantizeLocation;
            if (quantize is (int)Quantization.Int8Static or (int)Quantization.Int4Gptq && string.IsNullOrWhiteSpace(calibration))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.CalibrationInvalid, quantizeLocation, "(none)",
                    $"Quantize = Quantization.{(Quantization)quantize} needs Calibration = \"….safetensors\", a file of representative inputs"));
            AttributeArgumentSyntax? adapterArgument = attributeSyntax?.ArgumentList?.Arguments
                .FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == "Adapter");
            adapterLocation = adapterArgument is not null ? LocationInfo.From(adapterArgument.Expression) : LocationInfo.From(attributeSyntax);
            AttributeArgumentSyntax? weightsArgument = attributeSyntax?.ArgumentList?.Arguments
                .FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == (onnx is null ? "Weights" : "Onnx"));
            if (weightsArgument is not null) weightsLocation = LocationInfo.From(weightsArgument.Expression);
            if (onnx is not null)
            {
                // An ONNX model: the file holds the graph and the weights; its ops are read in the next step.
                if (weights is not null)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, weightsLocation, type.Name,
                        "set either Onnx (the graph and its weights) or Weights (for a Forward method), not both"));
                else if (string.IsNullOrWhiteSpace(onnx))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsNotSpecified, weightsLocation, type.Name));
                if (type.GetMembers("Forward").FirstOrDefault() is { } extra)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(extra.Locations.FirstOrDefault()), "Forward",
                        "a model compiled from ONNX has no Forward method: the ONNX graph is the model"));
                return Result(onnx, weightsLocation, containing: containing.ToArray()) with { IsOnnx = true };
            }
            if (string.IsNullOrWhiteSpace(weights))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsNotSpecified, weightsLocation, type.Name));
                weights = null;
            }

            // static Tensor Forward([Shape(...)] Tensor input) { ... }
            INamedTypeSymbol? tensorType = context.SemanticModel.Compilation.GetTypeByMetadataName(TensorTypeName);
            IMethodSymbol[] forwards = type.GetMembers("Forward").OfType<IMethodSymbol>().ToArray();
            string? problem = forwards.Length switch
            {
                0 => "there is no method named Forward",
                > 1 => "Forward must not be overloaded",
                _ => null,
            };
            IMethodSymbol? forward = forwards.Length == 1 ? forwards[0] : null;
            MethodDeclarationSyntax? forwardSyntax = forward?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as MethodDeclarationSyntax;
            if (forward is not null && problem is null)
            {
                if (!forward.IsStatic) problem = "Forward must be static";
                else if (!SymbolEqualityComparer.Default.Equals(forward.ReturnType, tensorType)) problem = "Forward must return ModelCompiler.Tensor";
                else if (forward.Parameters.Length != 1 || !SymbolEqualityComparer.Default.Equals(forward.Parameters[0].Type, tensorType))
                    problem = "Forward must take exactly one ModelCompiler.Tensor parameter";
                else if (forward.IsGenericMethod) problem = "Forward must not be generic";
                else if (forwardSyntax is null || (forwardSyntax.Body is null && forwardSyntax.ExpressionBody is null)) problem = "Forward must have a body in source";
            }
            if (problem is not null)
            {
                LocationInfo? where = forwardSyntax is not null ? LocationInfo.From(forwardSyntax.Identifier.GetLocation()) : classLocation;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ForwardMethodInvalid, where, type.Name, problem));
                return Result(weights, weightsLocation, containing: containing.ToArray());
            }

            IParameterSymbol input = forward!.Parameters[0];
            int[]? shape = ReadShape(input, out string? shapeProblem);
            if (shape is null)
            {
                LocationInfo? where = LocationInfo.From(input.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken));
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InputShapeMissing, where, input.Name, shapeProblem!));
                return Result(weights, weightsLocation, input.Name, containing: containing.ToArray());
            }

            long inputCount = Kernels.SizeMath.Product(shape);
            if (!Kernels.SizeMath.Fits(inputCount))
            {
                LocationInfo? where = LocationInfo.From(input.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken));
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, where,
                    $"[Shape({string.Join(", ", shape)})] holds {Kernels.SizeMath.Format(inputCount)} values per sample, more than the {Kernels.SizeMath.Format(Kernels.SizeMath.MaxElements)} one tensor can hold"));
                return Result(weights, weightsLocation, input.Name, containing: containing.ToArray());
            }

            cancellationToken.ThrowIfCancellationRequested();
            var evaluator = new ForwardEvaluator(context.SemanticModel.Compilation, tensorType!, cancellationToken);
            ForwardEvaluator.Outcome outcome = evaluator.Evaluate(forward, forwardSyntax!, input);
            if (outcome.Diagnostic is not null) diagnostics.Add(outcome.Diagnostic);
            return Result(weights, weightsLocation, input.Name, shape, outcome.Ops.ToArray(), outcome.Output, containing.ToArray());
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            // The generator never throws: an internal failure becomes a diagnostic naming the model.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, classLocation, type.Name, DiagnosticInfo.Describe(e)));
            return Result();
        }
    }

    private static int[]? ReadShape(IParameterSymbol input, out string? problem)
    {
        AttributeData? shapeAttribute = input.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ShapeAttributeName);
        if (shapeAttribute is null)
        {
            problem = "add [Shape(…)] with the dimensions of one sample, e.g. [Shape(64)]";
            return null;
        }
        var dims = new List<int>();
        foreach (TypedConstant argument in shapeAttribute.ConstructorArguments)
        {
            if (argument.Kind == TypedConstantKind.Array)
            {
                foreach (TypedConstant element in argument.Values)
                {
                    if (element.Value is int d) dims.Add(d);
                }
            }
            else if (argument.Value is int d) dims.Add(d);
        }
        if (dims.Count == 0 || dims.Any(d => d <= 0))
        {
            problem = dims.Count == 0 ? "[Shape] needs at least one dimension" : $"every dimension must be positive, but [Shape({string.Join(", ", dims)})] is not";
            return null;
        }
        problem = null;
        return dims.ToArray();
    }
}
