using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Import;
using ModelCompiler.Generator.Parsing;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// The middle of the pipeline for one model: find and read its weights file, build the graph IR with shapes,
/// then run the passes in order (dead nodes, epilogue fusion, lowering with the arena plan).
/// </summary>
internal static class ModelBuilder
{
    public static ModelResult Build(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, CancellationToken cancellationToken)
    {
        var diagnostics = model.Diagnostics.ToList();
        ModelResult Stop() => new(null, diagnostics.ToEquatableArray());
        if (diagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error) || model.WeightsFile is null || model.OutputOp < 0)
            return Stop();
        try
        {
            var matches = files.Where(f => f.Matches(model.WeightsFile)).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
            if (matches.Count == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileNotFound, model.WeightsLocation, model.WeightsFile));
                return Stop();
            }
            if (matches.Count > 1)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.WeightsLocation, model.WeightsFile,
                    "it matches several AdditionalFiles (" + string.Join(", ", matches.Select(m => m.Path)) + "); give more of the path"));
                return Stop();
            }
            WeightsFileRef file = matches[0];
            if (file.Error is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.WeightsLocation, model.WeightsFile, file.Error));
                return Stop();
            }

            SafeTensorsHeader header;
            byte[] bytes;
            try
            {
                bytes = WeightsFileReader.ReadAllBytes(file.Path);
                header = SafeTensorsHeader.Parse(bytes);
            }
            catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.WeightsLocation, model.WeightsFile, e.Message));
                return Stop();
            }
            cancellationToken.ThrowIfCancellationRequested();

            ModelGraph? graph = ShapeInference.Build(model, header, diagnostics);
            if (graph is null) return Stop();
            foreach (string layer in model.FloatLayers)
            {
                if (!graph.Nodes.Any(n => n.Kind == OpKind.Linear && n.Source.Name == layer))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.QuantizationInvalid, model.QuantizeLocation,
                        $"FloatLayers names '{layer}', which is not a Linear layer of {model.ClassName}; its Linear layers are: "
                        + string.Join(", ", graph.Nodes.Where(n => n.Kind == OpKind.Linear).Select(n => n.Source.Name).Distinct())));
                }
            }
            if (diagnostics.Count > model.Diagnostics.Count) return Stop();

            bool[] live = EliminateDeadNodes.Run(graph);
            var groups = FuseEpilogues.Run(graph, live);
            ModelPlan plan = LowerToPlan.Run(model, file, graph, groups, name => header.ReadFloat32(bytes, header.Find(name)!));
            return new ModelResult(plan, diagnostics.ToEquatableArray());
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, model.ClassLocation, model.ClassName, e.GetType().Name + ": " + e.Message));
            return Stop();
        }
    }
}
