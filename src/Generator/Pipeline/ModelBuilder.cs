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
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;
using ModelCompiler.Generator.Passes;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Pipeline;

/// <summary>
/// The middle of the pipeline for one model: find and read its weights file, build the graph IR with shapes,
/// then run the passes in order (dead nodes, epilogue fusion, lowering with the arena plan).
/// </summary>
internal static class ModelBuilder
{
    /// <summary>The most kernels one model's generated code runs (a bound on what the generator emits; Forward records at most 20,000 ops).</summary>
    public const int MaxKernels = 20_000;

    public static ModelResult Build(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, BuildOptions options, CancellationToken cancellationToken, bool gpu = false)
    {
        var diagnostics = model.Diagnostics.ToList();
        ModelResult Stop() => new(null, diagnostics.ToEquatableArray()) { StandIn = StandIn(model, diagnostics) };
        // Each tensor fits a span (ShapeInference checks it); together they may not: the plan's sizes are computed checked.
        ModelResult TooLarge()
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, model.ClassLocation,
                $"{model.ClassName} needs more memory than one buffer can hold: its intermediate values for one sample plus the kernels' scratch, or its weights, "
                + $"come to more than {Kernels.SizeMath.Format(Kernels.SizeMath.MaxElements)} floats"));
            return Stop();
        }
        if (diagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error) || model.WeightsFile is null || (model.OutputOp < 0 && !model.IsOnnx))
            return Stop();
        try
        {
            // The same file listed twice (by hand and by the package's targets) is one file.
            var matches = files.Where(f => f.Matches(model.WeightsFile)).GroupBy(f => f.Path, StringComparer.Ordinal).Select(g => g.First())
                .OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
            if (matches.Count == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileNotFound, model.WeightsLocation, model.WeightsFile,
                    NotListedAdvice(model.WeightsFile, model.WeightsLocation?.FilePath, files)));
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
            WeightsImage image;
            OnnxImport? declaredOutput = null;
            List<OnnxFilePart>? onnxFiles = null;
            IReadOnlyDictionary<string, OnnxOrigin>? onnxOrigins = null;
            try
            {
                // The one read of the file for this change of it (the pipeline compared identities until here).
                bytes = WeightsFileReader.ReadAllBytes(file.Path, options.MaxFileBytes);
                file = file with { Length = bytes.Length, Hash = Kernels.WeightLayout.Hash(bytes) };
                if (model.IsOnnx)
                {
                    // The ONNX graph becomes the ops a Forward method would have recorded, and its initializers a
                    // safetensors image under the names those ops read; from here on it is compiled like any model.
                    var external = new List<OnnxFilePart>();
                    OnnxImport? import = OnnxImporter.Import(bytes, model.WeightsFile, model.WeightsLocation, diagnostics,
                        OnnxImporter.ExternalFiles(file.Path, files, options.MaxFileBytes, external), model.FixedDims());
                    if (import is null) return Stop();
                    // The files a model not embedding its weights reads them from: the model file, then its external data files.
                    onnxFiles = new[] { new OnnxFilePart(file.Path, file.Length, file.Hash) }.Concat(external).ToList();
                    onnxOrigins = import.Origins;
                    // External data is part of what the model reads: its hashes key the plan with the model file's.
                    file = file with { Hash = OnnxImporter.CombinedHash(file.Hash, external) };
                    declaredOutput = import;
                    model = model with
                    {
                        Inputs = import.Inputs,
                        Ops = import.Ops.ToEquatableArray(),
                        Outputs = import.Outputs,
                    };
                    bytes = import.Weights;
                }
                header = SafeTensorsHeader.Parse(bytes);
                image = new WeightsImage(file.Path, file.Hash, bytes, header);
            }
            catch (FileTooLargeException e)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LimitExceeded, model.WeightsLocation, e.Message));
                return Stop();
            }
            catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.WeightsLocation, model.WeightsFile!, e.Message));
                return Stop();
            }
            cancellationToken.ThrowIfCancellationRequested();

            (List<RecordedOp> ops, int[] outputs) = EliminateCommonSubexpressions.Run(model.Ops.ToArray(), model.Outputs.Select(o => o.Op).ToArray());
            model = model with { Ops = ops.ToEquatableArray(), Outputs = model.Outputs.Select((o, i) => o with { Op = outputs[i] }).ToEquatableArray() };
            ModelGraph? graph = ShapeInference.Build(model, header, diagnostics);
            if (graph is null) return Stop();
            if (declaredOutput?.OutputShapeError(graph.Outputs.Select(o => graph.Nodes[o].Shape).ToArray()) is { } outputError)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.WeightsLocation, model.WeightsFile!, outputError));
                return Stop();
            }
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
            string? adapterNote = null;
            if (model.AdapterFile is not null)
            {
                if (model.IsOnnx)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.AdapterLocation, model.AdapterFile,
                        "a LoRA adapter is merged into the weights of a Forward method's model (Weights = \"…\"), not of an ONNX model"));
                    return Stop();
                }
                if (MergeAdapter(model, files, options, graph, live, image, diagnostics, cancellationToken) is not { } merged) return Stop();
                (image, adapterNote) = merged;
            }
            Func<string, float[]> readTensor = image.Read;
            FoldConstants.Run(graph, live, readTensor);
            // Quantize applies to Linear layers only: a convolution (1-D or 2-D) before a BatchNorm stays float32 and folds it.
            FoldBatchNorm.Run(graph, live, layer => layer.Kind != OpKind.Linear || !(LinearOps.IsQuantized(model, layer) || LinearOps.IsInt4(model, layer)));
            var groups = FuseEpilogues.Run(graph, live);

            Dictionary<string, float>? ranges = null;
            Dictionary<string, Gptq.Result>? gptq = null;
            HeldOutPerplexity? heldOut = null;
            if (model.Quantize == Quantization.Int8Static)
            {
                ranges = CalibrationRanges(model, files, options, graph, live, readTensor, diagnostics, cancellationToken);
                if (ranges is null) return Stop();
            }
            if (model.Quantize == Quantization.Int4Gptq)
            {
                gptq = GptqWeights(model, files, options, graph, live, readTensor, diagnostics, cancellationToken, out heldOut);
                if (gptq is null) return Stop();
            }
            ModelPlan plan = LowerToPlan.Run(model, file.Length, file.Hash, graph, groups, readTensor, ranges, gpu, gptq) with { GptqPerplexity = heldOut, AdapterNote = adapterNote };
            // A merged adapter's layers exist only at build time: embedded whatever the storage (ModelPlan.Embeds).
            if (adapterNote is not null) plan = plan with { Blobs = plan.Blobs.Select(b => image.IsMerged(b.Tensor) ? b with { Merged = true } : b).ToEquatableArray() };
            // Every tensor fits a span (ShapeInference); the arena (intermediates for a chunk of rows plus kernel scratch)
            // and the weights buffer must too, so every offset in the generated code is a safe int.
            long arenaFloats = (long)plan.ArenaFloatsPerRow * plan.ChunkRows + plan.ScratchFloats;
            if (arenaFloats > Kernels.SizeMath.MaxElements || plan.WeightFloats > Kernels.SizeMath.MaxElements) return TooLarge();
            if (plan.Kernels.Count > MaxKernels)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LimitExceeded, model.ClassLocation,
                    $"{model.ClassName} compiles to {plan.Kernels.Count:N0} kernels; the generator emits at most {MaxKernels:N0} per model"));
                return Stop();
            }
            // Embedding costs ~0.5 s of compile time per MB (docs/performance.md): big weights are read from the file instead.
            // GPTQ's codes exist only at build time: they are embedded whatever the storage (ModelPlan.Embeds).
            plan = plan with { EmbedWeights = model.WeightsStorage == WeightsStorage.Embedded || (model.WeightsStorage == WeightsStorage.Auto && plan.EmbeddedBytes <= options.EmbedLimit), IsOnnx = model.IsOnnx, OutputName = model.OutputName };
            // Every kernel kind has a GPU form (Emit/GpuEmitter, GpuBodies): with the GPU runtime referenced, every model gets CreateGpu.
            // A model with several inputs or outputs has no GPU entry point yet (its Predict takes a span for each).
            if (plan.IsDecoder && DecoderError(plan) is { } decoderError)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, model.ClassLocation, decoderError));
                return Stop();
            }
            // A decoder's GPU entry point is a session (CreateGpuSession) with the cache on the device.
            if (gpu && !plan.HasSeveralValues) plan = plan with { GpuPlan = PlanGpu.Run(plan) };
            if (!model.IsOnnx) plan = plan with { FileTensors = FileTensors(plan, header), FixedWeightsReason = FixedWeightsReason(plan) };
            else if (!plan.EmbedWeights) plan = OnnxFileRoute(plan, onnxFiles!, onnxOrigins!);
            // The image goes on to the weights step only when something is embedded (then it is small, or the project asked
            // for it): the pipeline keeps step values alive, and a file-storage model's weights are read at run time instead.
            return new ModelResult(plan, diagnostics.ToEquatableArray()) { Image = plan.Blobs.Any(plan.Embeds) ? image : null };
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (OverflowException)
        {
            return TooLarge();
        }
        catch (Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, model.ClassLocation, model.ClassName, DiagnosticInfo.Describe(e)));
            return Stop();
        }
    }

    /// <summary>
    /// An ONNX model whose weights are not embedded: each tensor the blobs read whose floats lie in the model's files (an
    /// initializer's raw float32 data, as it is or transposed) is read there at start-up; a blob reading a tensor computed
    /// at build time stays embedded (<see cref="ModelPlan.Embeds"/>). Only the files holding such tensors are read, each
    /// from beside the application by its file name (the package's targets copy them there). When no tensor can be read
    /// from a file, or two files would share a name there, everything is embedded.
    /// </summary>
    private static ModelPlan OnnxFileRoute(ModelPlan plan, List<OnnxFilePart> files, IReadOnlyDictionary<string, OnnxOrigin> origins)
    {
        var used = new List<OnnxFilePart>();
        var tensors = new List<OnnxFileTensor>();
        foreach (string name in plan.Blobs.SelectMany(b => b.ReadTensors()).Distinct(StringComparer.Ordinal))
        {
            if (!origins.TryGetValue(name, out OnnxOrigin? origin)) continue;
            OnnxFilePart? part = origin.Location is null ? files[0] : files.Skip(1).FirstOrDefault(f => f.FileName == origin.Location);
            if (part is null) continue;
            int index = used.IndexOf(part);
            if (index < 0)
            {
                index = used.Count;
                used.Add(part);
            }
            tensors.Add(new OnnxFileTensor(name, index, origin.Offset, origin.Rows, origin.Columns, origin.Transposed));
        }
        var named = used.Select(f => f with { FileName = System.IO.Path.GetFileName(f.FileName.Replace('\\', '/')) }).ToList();
        if (tensors.Count == 0 || named.Select(f => f.FileName).Distinct(StringComparer.Ordinal).Count() != named.Count) return plan with { EmbedWeights = true };
        return plan with { OnnxFiles = named.ToEquatableArray(), OnnxTensors = tensors.ToEquatableArray() };
    }

    /// <summary>The weights file's tensors the plan reads, with their shapes (in the order the blobs first read them).</summary>
    private static EquatableArray<FileTensor> FileTensors(ModelPlan plan, SafeTensorsHeader header)
    {
        return plan.Blobs.SelectMany(b => b.ReadTensors()).Distinct(StringComparer.Ordinal).Select(header.Find).Where(e => e is not null)
            .Select(e => new FileTensor(e!.Name, new EquatableArray<int>(e.Shape))).ToEquatableArray();
    }

    /// <summary>
    /// Why a decoder cannot get a session, or null: it takes one token id per sample (Forward's input [1], read by an
    /// Embedding) and returns one value, its logits.
    /// </summary>
    private static string? DecoderError(ModelPlan plan)
    {
        if (plan.HasSeveralValues)
            return $"{plan.ClassName} uses CachedAttention, Rotary or AddPositions, so it is a decoder, which takes one input (token ids) and returns one value (the logits)";
        if (plan.InputLength != 1 || plan.TokenLimit == 0)
            return $"{plan.ClassName} uses CachedAttention, Rotary or AddPositions, so it is a decoder, whose samples are one token each: Forward's input must be [1] and go through an Embedding (it is [{string.Join(", ", plan.InputShape)}])";
        return null;
    }

    /// <summary>
    /// <c>Adapter = "…"</c>: reads PEFT's adapter and its configuration (MC0003 when they are not one ModelCompiler reads),
    /// pairs each adapted module with a live Linear layer by name (the same, or the layer's name as its last segments), and
    /// returns the image with <c>W + s · B · A</c> in place of each such layer's weight, and the line the header says it with.
    /// </summary>
    private static (WeightsImage Image, string Note)? MergeAdapter(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, BuildOptions options,
        ModelGraph graph, bool[] live, WeightsImage image, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        string name = model.AdapterFile!;
        DiagnosticInfo Fail(string why) => DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, model.AdapterLocation, name, why);
        if (OneFile(files, name, $" and its {LoraAdapterFile.ConfigFileName}", out string? missing) is not { } adapterFile)
        {
            diagnostics.Add(Fail(missing!));
            return null;
        }
        string configPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(adapterFile.Path) ?? "", LoraAdapterFile.ConfigFileName);
        WeightsFileRef? config = files.FirstOrDefault(f => string.Equals(System.IO.Path.GetFullPath(f.Path), System.IO.Path.GetFullPath(configPath), StringComparison.OrdinalIgnoreCase));
        if (config is null)
        {
            diagnostics.Add(Fail($"its {LoraAdapterFile.ConfigFileName} (PEFT saves it beside the weights) is not among the project's AdditionalFiles; add <AdditionalFiles Include=\"…/{LoraAdapterFile.ConfigFileName}\" />"));
            return null;
        }
        try
        {
            byte[] bytes = WeightsFileReader.ReadAllBytes(adapterFile.Path, options.MaxFileBytes);
            byte[] configBytes = WeightsFileReader.ReadAllBytes(config.Path, options.MaxFileBytes);
            SafeTensorsHeader header = SafeTensorsHeader.Parse(bytes);
            LoraAdapterFile adapter = LoraAdapterFile.Parse(header, new System.Text.UTF8Encoding(false, true).GetString(configBytes));
            Node[] linears = graph.Nodes.Where(n => live[n.Id] && n.Kind == OpKind.Linear && n.Weight is not null).ToArray();
            var merged = new Dictionary<string, float[]>(StringComparer.Ordinal);
            long work = 0;
            foreach (LoraModule module in adapter.Modules)
            {
                Node? layer = linears.FirstOrDefault(n => LoraAdapterFile.Adapts(module.Name, n.Source.Name ?? ""));
                if (layer is null)
                {
                    List<string> near = NameSuggestions.Nearest(module.Name, linears.Select(n => n.Source.Name ?? ""));
                    diagnostics.Add(Fail($"it adapts '{module.Name}', which is not a Linear layer of {model.ClassName} (nearest: {string.Join(", ", near)})"));
                    return null;
                }
                int n = layer.Weight!.Shape[0], k = layer.Weight.Shape[1];
                if (module.Out != n || module.In != k)
                {
                    diagnostics.Add(Fail($"its '{module.Name}' goes from {module.In} to {module.Out} values, but Linear '{layer.Source.Name}' from {k} to {n}"));
                    return null;
                }
                // Merging costs n·k·r multiply-adds: bounded, so a hostile adapter cannot stall the compiler.
                work = checked(work + (long)n * k * module.Rank);
                if (work > MaxMergeWork)
                {
                    diagnostics.Add(Fail($"merging it takes over {MaxMergeWork:N0} multiply-adds; switch it at run time instead (LoraAdapter.Load, SetAdapter)"));
                    return null;
                }
                cancellationToken.ThrowIfCancellationRequested();
                merged[layer.Weight.Name] = LoraAdapterFile.Merge(image.Read(layer.Weight.Name), header.ReadFloat32(bytes, module.A), header.ReadFloat32(bytes, module.B), n, k, module.Rank, module.Scale);
            }
            string hash = Kernels.WeightLayout.Hash(bytes) + Kernels.WeightLayout.Hash(configBytes);
            string note = $"the LoRA adapter {name} (FNV-1a {Kernels.WeightLayout.Hash(bytes)}, {adapter.Modules.Count} layer{(adapter.Modules.Count == 1 ? "" : "s")}, "
                + $"rank {string.Join("/", adapter.Modules.Select(m => m.Rank).Distinct())}) merged in";
            return (image.WithMerged(merged, hash), note);
        }
        catch (FileTooLargeException e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LimitExceeded, model.AdapterLocation, e.Message));
            return null;
        }
        catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException)
        {
            diagnostics.Add(Fail(e.Message));
            return null;
        }
    }

    /// <summary>
    /// The one AdditionalFile an attribute's file name names (equal, or a whole-segment ending of its path), or null with
    /// why not (<paramref name="alsoAdd"/>: what else the fix should list).
    /// </summary>
    private static WeightsFileRef? OneFile(ImmutableArray<WeightsFileRef> files, string name, string alsoAdd, out string? why)
    {
        var matches = files.Where(f => f.Matches(name)).GroupBy(f => f.Path, StringComparer.Ordinal).Select(g => g.First()).ToList();
        why = matches.Count == 1 ? null
            : matches.Count == 0 ? $"it is not among the project's AdditionalFiles; add <AdditionalFiles Include=\"{name}\" />{alsoAdd}"
            : "it matches several AdditionalFiles; give more of the path";
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>Multiply-adds merging an adapter at build time may take (a 7B model's attention at rank 64 is ~10¹²; a 125M model's ~10¹⁰).</summary>
    private const long MaxMergeWork = 50_000_000_000;

    /// <summary>Why LoadWeights cannot replace this plan's weights, or null.</summary>
    private static string? FixedWeightsReason(ModelPlan plan) =>
        plan.AdapterNote is not null ? "a LoRA adapter was merged into its weights at build time (Adapter)"
        : plan.Blobs.Any(b => b.IsFolded) ? "it computes constants from its weights at build time (Passes/FoldConstants)"
        : plan.Quantize == Quantization.Int8Static ? "its activation ranges were calibrated at build time with these weights (Int8Static)"
        : plan.Quantize == Quantization.Int4Gptq ? "its int4 weights were rounded by GPTQ at build time from these weights and the calibration inputs (Int4Gptq)"
        : plan.Gpu && plan.Blobs.Any(b => b.Kind == WeightLayoutKind.Int4Linear) ? "its GPU entry point reads the int4 codes embedded at build time"
        : null;

    /// <summary>
    /// What to do about a Weights or Onnx name no AdditionalFile matches: a listed file with a name a typo away ("did you
    /// mean"), else list the file when it exists beside the source, else say that it exists nowhere the generator looked.
    /// </summary>
    private static string NotListedAdvice(string wanted, string? sourcePath, ImmutableArray<WeightsFileRef> files)
    {
        string name = System.IO.Path.GetFileName(wanted.Replace('\\', '/'));
        var names = files.Select(f => System.IO.Path.GetFileName(f.Path)).Distinct(StringComparer.Ordinal);
        List<string> near = Weights.NameSuggestions.Nearest(name, names)
            .Where(n => Weights.NameSuggestions.Distance(name, n) <= Math.Max(2, name.Length / 4)).ToList();
        if (near.Count > 0)
            return "did you mean " + string.Join(" or ", near.Select(n => $"'{n}'")) + "? (listed among the AdditionalFiles)";
        string list = $"add <AdditionalFiles Include=\"{wanted}\" /> to the project";
        string? folder = sourcePath is null ? null : System.IO.Path.GetDirectoryName(sourcePath);
        if (folder is null || folder.Length == 0) return list;
        try
        {
            WeightsFileReader.Identity(System.IO.Path.Combine(folder, wanted));
            return list;
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"there is no '{wanted}' beside {System.IO.Path.GetFileName(sourcePath)} either: check the name; if the file is elsewhere in the project, {list}";
        }
    }

    /// <summary>
    /// A stand-in for a failed model, unless the class cannot take one (not partial, generic, or something around it is
    /// not partial): then a stand-in would only add errors.
    /// </summary>
    private static ModelStandIn? StandIn(ModelDeclaration model, List<DiagnosticInfo> diagnostics)
    {
        if (diagnostics.Count == 0 || diagnostics.Any(d => d.Descriptor.Id is "MC0001" or "MC0008") || model.ClassName.Length == 0) return null;
        if (diagnostics.Any(d => d.Descriptor.Id == "MC0006" && d.Location == model.ClassLocation)) return null; // generic class
        long inputCount = Kernels.SizeMath.Product(model.InputShape);
        int inputLength = Kernels.SizeMath.Fits(inputCount) ? (int)inputCount : 0;
        DiagnosticInfo first = diagnostics[0];
        return new ModelStandIn(model.Namespace, model.ContainingTypes, model.ClassName, inputLength, first.Descriptor.Id + ": " + first.Descriptor.Title)
        {
            InputShape = inputLength > 0 ? model.InputShape : EquatableArray<int>.Empty,
            IsOnnx = model.IsOnnx,
        };
    }

    /// <summary>Int8Static: reads the calibration inputs and runs the float model on them (MC0012 when it cannot).</summary>
    private static Dictionary<string, float>? CalibrationRanges(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, BuildOptions options, ModelGraph graph,
        bool[] live, Func<string, float[]> readTensor, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        DiagnosticInfo Fail(string why) => DiagnosticInfo.Create(DiagnosticDescriptors.CalibrationInvalid, model.CalibrationLocation, model.CalibrationFile!, why);
        if (ReadCalibration(model, files, options, graph, diagnostics) is not { } calibration) return null;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A decoder's sequences [N, T] calibrate as one sequence of N·T tokens (the ranges do not depend on where they break).
            // Learned positions bound a sequence: the first PositionLimit tokens then.
            int samples = graph.IsDecoder ? (int)Math.Min(graph.PositionLimit, (long)calibration.Shape[0] * calibration.Shape[1]) : calibration.Shape[0];
            return Calibrate.Run(graph, live, calibration.Values, samples, LinearFlops(graph, live), readTensor,
                node => LinearOps.IsQuantized(model, node));
        }
        catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException or CalibrationInputException)
        {
            diagnostics.Add(Fail(e.Message));
            return null;
        }
    }

    /// <summary>
    /// Int4Gptq: runs the float model on the calibration inputs (a decoder's token sequences, each from position 0),
    /// collects every int4 layer's input Hessian and rounds its weights with GPTQ (MC0012 when it cannot).
    /// </summary>
    private static Dictionary<string, Gptq.Result>? GptqWeights(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, BuildOptions options, ModelGraph graph,
        bool[] live, Func<string, float[]> readTensor, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken, out HeldOutPerplexity? perplexity)
    {
        perplexity = null;
        DiagnosticInfo Fail(string why) => DiagnosticInfo.Create(DiagnosticDescriptors.CalibrationInvalid, model.CalibrationLocation, model.CalibrationFile!, why);
        if (ReadCalibration(model, files, options, graph, diagnostics) is not { } calibration) return null;
        try
        {
            // A decoder's samples are tokens: each row of [N, T] is one sequence (its first MaxCalibrationTokens, so attention's
            // work stays bounded, and no more than learned positions cover). Otherwise the N samples run in batches of up to 64.
            int runs, samplesPerRun, stride;
            if (graph.IsDecoder)
            {
                (runs, samplesPerRun, stride) = (calibration.Shape[0], Math.Min(calibration.Shape[1], Math.Min(MaxCalibrationTokens, graph.PositionLimit)), calibration.Shape[1]);
            }
            else
            {
                samplesPerRun = Math.Min(calibration.Shape[0], 64);
                runs = calibration.Shape[0] / samplesPerRun;
                stride = calibration.Values.Length / calibration.Shape[0] * samplesPerRun;
            }
            bool Rounded(Node node) => LinearOps.IsInt4(model, node) && Gptq.Fits(node.Weight!.Shape[0], node.Weight.Shape[1]);
            Dictionary<string, double[]> hessians = Calibrate.Hessians(graph, live, calibration.Values, runs, samplesPerRun, stride, LinearFlops(graph, live),
                readTensor, Rounded, cancellationToken);
            var results = new Dictionary<string, Gptq.Result>(StringComparer.Ordinal);
            foreach (Node linear in graph.Nodes.Where(n => live[n.Id] && n.Kind == OpKind.Linear && Rounded(n)))
            {
                string weight = linear.Weight!.Name;
                if (results.ContainsKey(weight) || !hessians.TryGetValue(weight, out double[]? hessian)) continue;
                int n = linear.Weight.Shape[0], k = linear.Weight.Shape[1];
                Gptq.Result? result = Gptq.Quantize(readTensor(weight), n, k, hessian, model.GptqActOrder, cancellationToken: cancellationToken);
                if (result is null)
                {
                    diagnostics.Add(Fail($"the Hessian of '{linear.Source.Name}' on it is not positive definite even with 100 times GPTQ's damping (are its inputs all zero or not finite?)"));
                    return null;
                }
                results[weight] = result;
            }
            if (calibration.HeldOut is { } heldOut && calibration.HeldOutShape![1] <= Math.Min(MaxCalibrationTokens, graph.PositionLimit))
                perplexity = HeldOut(graph, live, heldOut, calibration.HeldOutShape, readTensor, results, node => LinearOps.IsInt4(model, node), cancellationToken);
            return results;
        }
        catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException or CalibrationInputException)
        {
            diagnostics.Add(Fail(e.Message));
            return null;
        }
    }

    /// <summary>
    /// Int4Gptq on a decoder whose calibration file holds 'heldout' sequences: the perplexity on them with the float32
    /// weights, with round-to-nearest int4 and with GPTQ's (bounded work: the first windows only).
    /// </summary>
    private static HeldOutPerplexity? HeldOut(ModelGraph graph, bool[] live, float[] tokens, int[] shape, Func<string, float[]> readTensor,
        Dictionary<string, Gptq.Result> gptq, Func<Node, bool> int4, CancellationToken cancellationToken)
    {
        // Every int4 layer: GPTQ's codes where it ran, round to nearest where the layer was too large for it (Gptq.Fits).
        var sizes = graph.Nodes.Where(n => live[n.Id] && n.Kind == OpKind.Linear && int4(n))
            .GroupBy(n => n.Weight!.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (N: g.First().Weight!.Shape[0], K: g.First().Weight!.Shape[1]), StringComparer.Ordinal);
        float[] Nearest(string name) => sizes.TryGetValue(name, out var s) ? Int4Quantization.RoundTrip(readTensor(name), s.N, s.K) : readTensor(name);
        float[] Rounded(string name) => gptq.TryGetValue(name, out Gptq.Result? r) ? Int4Quantization.Decode(r.Encoded, sizes[name].N, sizes[name].K) : Nearest(name);
        long flops = LinearFlops(graph, live);
        // A model too large for one window within the budget gets no held-out line in its header.
        if (Calibrate.Perplexity(graph, live, tokens, shape[0], shape[1], flops, readTensor, cancellationToken) is not { } float32) return null;
        double nearest = Calibrate.Perplexity(graph, live, tokens, shape[0], shape[1], flops, Nearest, cancellationToken)!.Value.Perplexity;
        double rounded = Calibrate.Perplexity(graph, live, tokens, shape[0], shape[1], flops, Rounded, cancellationToken)!.Value.Perplexity;
        return new HeldOutPerplexity(float32.Tokens, float32.Perplexity, nearest, rounded);
    }

    /// <summary>Tokens of each calibration sequence a decoder's GPTQ runs on at most.</summary>
    private const int MaxCalibrationTokens = 2048;

    /// <summary>FLOPs of one sample's Linear layers: what bounds the work calibration may do.</summary>
    private static long LinearFlops(ModelGraph graph, bool[] live) =>
        graph.Nodes.Where(n => live[n.Id] && n.Kind == OpKind.Linear).Sum(n => 2L * n.Weight!.Shape[0] * n.Weight.Shape[1] * Math.Max(1, graph.Nodes[n.Inputs[0]].ElementCount / n.Weight.Shape[1]));

    /// <summary>
    /// The calibration file's tensor 'input': samples <c>[N, …sample shape]</c>, or a decoder's token sequences <c>[N, T]</c>
    /// (float or integer ids), and a decoder's optional 'heldout' sequences <c>[M, T]</c>; MC0012 and null when 'input' is
    /// missing or does not fit.
    /// </summary>
    private static (float[] Values, int[] Shape, float[]? HeldOut, int[]? HeldOutShape)? ReadCalibration(ModelDeclaration model, ImmutableArray<WeightsFileRef> files, BuildOptions options, ModelGraph graph,
        List<DiagnosticInfo> diagnostics)
    {
        string name = model.CalibrationFile!;
        DiagnosticInfo Fail(string why) => DiagnosticInfo.Create(DiagnosticDescriptors.CalibrationInvalid, model.CalibrationLocation, name, why);
        if (model.Inputs.Count > 1)
        {
            diagnostics.Add(Fail($"the model has {model.Inputs.Count} inputs, and a calibration file holds one ('input'); use Quantize = Quantization.Int8 (ranges measured at run time)"));
            return null;
        }
        if (OneFile(files, name, "", out string? missing) is not { } calibrationFile)
        {
            diagnostics.Add(Fail(missing!));
            return null;
        }
        try
        {
            byte[] bytes = WeightsFileReader.ReadAllBytes(calibrationFile.Path, options.MaxFileBytes);
            SafeTensorsHeader header = SafeTensorsHeader.Parse(bytes);
            SafeTensorEntry? input = header.Find("input");
            int[] sample = model.InputShape.ToArray();
            if (input is null)
            {
                diagnostics.Add(Fail("it has no tensor named 'input'"));
                return null;
            }
            bool fits = graph.IsDecoder
                ? input.Shape.Length == 2 && input.Shape[0] > 0 && input.Shape[1] > 0
                : input.Shape.Length == sample.Length + 1 && input.Shape[0] > 0 && input.Shape.Skip(1).SequenceEqual(sample);
            if (!fits)
            {
                diagnostics.Add(Fail(graph.IsDecoder
                    ? $"'input' is {Node.Format(input.Shape)}, but a decoder calibrates on token sequences [N, T] with N, T ≥ 1"
                    : $"'input' is {Node.Format(input.Shape)}, but the model takes [N, {string.Join(", ", sample)}] with N ≥ 1"));
                return null;
            }
            // A decoder's file may hold 'heldout' token sequences [M, T] too: the header then gives held-out perplexities.
            SafeTensorEntry? heldOut = graph.IsDecoder ? header.Find("heldout") : null;
            bool useHeldOut = heldOut is { Shape.Length: 2 } && heldOut.Shape[0] > 0 && heldOut.Shape[1] > 1;
            return (header.ReadValues(bytes, input), input.Shape, useHeldOut ? header.ReadValues(bytes, heldOut!) : null, useHeldOut ? heldOut!.Shape : null);
        }
        catch (Exception e) when (e is SafeTensorsFormatException or System.IO.IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(Fail(e.Message));
            return null;
        }
    }
}
