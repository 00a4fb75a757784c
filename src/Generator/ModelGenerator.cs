using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Emit;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Import;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Parsing;
using ModelCompiler.Generator.Pipeline;

namespace ModelCompiler.Generator;

/// <summary>
/// Compiles each <c>[CompileModel]</c> class into fused SIMD kernels. The pipeline only: parse the class
/// (<see cref="ModelParser"/>), read the weights files (<see cref="WeightsFileRef"/>), build and plan the model
/// (<see cref="ModelBuilder"/>), report diagnostics and emit source in separate steps, so a diagnostic change
/// does not regenerate code and an unrelated edit leaves every step cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps (tests assert their caching).</summary>
    public static class Steps
    {
        public const string Declarations = nameof(Declarations);
        public const string WeightsFiles = nameof(WeightsFiles);
        public const string Models = nameof(Models);
        public const string Plans = nameof(Plans);
        public const string Diagnostics = nameof(Diagnostics);
        public const string WeightsJobs = nameof(WeightsJobs);
        public const string Weights = nameof(Weights);
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ModelDeclaration> declarations = context.SyntaxProvider
            .ForAttributeWithMetadataName(ModelParser.AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse(ctx, ct))
            .WithTrackingName(Steps.Declarations);

        IncrementalValuesProvider<WeightsFileRef> weightsFiles = context.AdditionalTextsProvider
            .Where(static text => WeightsFileRef.IsWeightsFile(text.Path))
            .Select(static (text, _) => WeightsFileRef.Identify(text.Path))
            .WithTrackingName(Steps.WeightsFiles);

        // The embedding limit and the file size limit, from the MSBuild properties ModelCompilerEmbedLimit and
        // ModelCompilerMaxFileBytes (bytes) when the project exposes them.
        IncrementalValueProvider<BuildOptions> options = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => new BuildOptions(
                Property(options.GlobalOptions, "ModelCompilerEmbedLimit", BuildOptions.DefaultEmbedLimit),
                Property(options.GlobalOptions, "ModelCompilerMaxFileBytes", BuildOptions.DefaultMaxFileBytes)));

        // Whether the project references the GPU runtime (ModelCompiler.Gpu): then models get a GPU entry point too.
        // A bool, so an edit that does not change the references leaves it, and everything after it, cached.
        IncrementalValueProvider<bool> gpu = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName(GpuEmitter.RuntimeType) is not null);

        IncrementalValuesProvider<ModelResult> models = declarations
            .Combine(weightsFiles.Collect())
            .Combine(options)
            .Combine(gpu)
            .Select(static (pair, ct) => ModelBuilder.Build(pair.Left.Left.Left, pair.Left.Left.Right, pair.Left.Right, ct, pair.Right))
            .WithTrackingName(Steps.Models);

        IncrementalValuesProvider<ModelPlan> plans = models
            .Where(static m => m.Plan is not null)
            .Select(static (m, _) => m.Plan!)
            .WithTrackingName(Steps.Plans);

        // The weights step, apart from the plan: keyed on the blobs and the image only, so an edit that moves a source line
        // (which every kernel's comment carries) re-emits the model but not its weights.
        IncrementalValuesProvider<WeightsJob> weightsJobs = models
            .Where(static m => m.Plan is not null && m.Image is not null)
            .Select(static (m, _) => new WeightsJob(m.Plan!.Namespace, m.Plan.ContainingTypes, m.Plan.ClassName, ModelEmitter.HintName(m.Plan),
                m.Plan.WeightsFile, m.Plan.WeightsLength, m.Plan.WeightsHash, m.Plan.Blobs.Where(m.Plan.Embeds).ToEquatableArray(), m.Image!))
            .WithTrackingName(Steps.WeightsJobs);
        IncrementalValuesProvider<GeneratedFile> weights = weightsJobs
            .Select(static (job, _) =>
            {
                try
                {
                    return WeightsEmitter.Emit(job);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return new GeneratedFile(job.HintName, "") { Error = job.ClassName + ": " + DiagnosticInfo.Describe(e) };
                }
            })
            .WithTrackingName(Steps.Weights);
        context.RegisterSourceOutput(weights, static (spc, file) =>
        {
            if (file.Error is null) spc.AddSource(file.HintName, file.Text);
            else spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, Location.None, file.HintName, file.Error));
        });

        IncrementalValuesProvider<Helpers.EquatableArray<DiagnosticInfo>> diagnostics = models
            .Select(static (m, _) => m.Diagnostics)
            .WithTrackingName(Steps.Diagnostics);

        IncrementalValuesProvider<ModelStandIn> standIns = models
            .Where(static m => m.StandIn is not null)
            .Select(static (m, _) => m.StandIn!);
        context.RegisterSourceOutput(standIns, static (spc, standIn) =>
            spc.AddSource(ModelEmitter.HintName(new[] { standIn.Namespace }.Concat(standIn.ContainingTypes.Select(t => t.Name)), standIn.ClassName) + ".g.cs",
                ModelEmitter.EmitStandIn(standIn)));

        // Reporting maps each by-value location back onto the compilation's syntax tree, so the IDE squiggles
        // the exact span. This last step re-runs on every edit, but it only walks a (usually empty) list.
        context.RegisterSourceOutput(diagnostics.Combine(context.CompilationProvider), static (spc, pair) =>
        {
            // MC0001 is ModelClassAnalyzer's to report (so that command-line fixers apply its code fix); the generator only stops on it.
            foreach (DiagnosticInfo info in pair.Left.Where(d => d.Descriptor.Id != DiagnosticDescriptors.ClassNotPartial.Id))
                spc.ReportDiagnostic(info.ToDiagnostic(pair.Right));
        });

        context.RegisterSourceOutput(plans, static (spc, plan) =>
        {
            try
            {
                string hint = ModelEmitter.HintName(plan);
                string code = ModelEmitter.Emit(plan);
                spc.AddSource(hint + ".g.cs", code);
                if (plan.Gpu) spc.AddSource(hint + ".Gpu.g.cs", GpuEmitter.Emit(plan));
            }
            catch (Exception e)
            {
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, Location.None, plan.ClassName, DiagnosticInfo.Describe(e)));
            }
        });
    }

    private static long Property(Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions options, string name, long fallback) =>
        options.TryGetValue("build_property." + name, out string? text)
        && long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value) && value > 0
            ? value : fallback;
}
