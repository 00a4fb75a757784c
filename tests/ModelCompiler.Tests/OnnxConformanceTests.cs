extern alias generator;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The ONNX conformance suite as a test tier (Debian's libonnx-testdata: the node, pytorch-converted, pytorch-operator
/// and simple suites, each case a <c>model.onnx</c> with <c>test_data_set_0/input_N.pb</c> and <c>output_N.pb</c>).
/// Each case is compiled by the generator, its generated code compiled and loaded, run on the case's inputs and compared
/// with its outputs as onnx's backend tests do (<c>rtol 1e-3, atol 1e-7</c>). The cases that pass are listed in
/// <c>Onnx/conformance-passing.txt</c>: any of them failing fails the test. With <c>MODELCOMPILER_ACCEPT_CONFORMANCE=1</c>
/// the test rewrites that list and <c>docs/onnx-conformance.md</c> (every case: passed, failed or not supported, and why).
/// Every case is also hostile input: none may end in an internal error (MC0008) or in generated code that does not compile.
/// </summary>
[Trait(Tier.Name, Tier.Slow)]
public class OnnxConformanceTests
{
    private const string Root = "/usr/share/libonnx-testdata/data";
    private static readonly string[] Suites = { "node", "pytorch-converted", "pytorch-operator", "simple" };
    private const string Source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"model.onnx\")]\npublic static partial class Net;\n";

    private delegate void HarnessRun(Array[] inputs, Array[] outputs, int batch);

    private enum Outcome { Passed, Failed, NotSupported }

    private sealed record Result(string Suite, string Name, Outcome Outcome, string Why, bool Float32);

    [Fact]
    public void The_conformance_cases_that_passed_still_pass()
    {
        if (!Directory.Exists(Root)) Assert.Skip("libonnx-testdata is not installed (.ci/run installs it: apt-get install libonnx-testdata)");
        var results = new List<Result>();
        // A developer's loop: MODELCOMPILER_CONFORMANCE_CASES=test_clip,test_lstm runs only the cases whose names contain
        // one of these and writes each one's result to conformance-cases.txt in the temporary folder (nothing is checked).
        string[] only = (Environment.GetEnvironmentVariable("MODELCOMPILER_CONFORMANCE_CASES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (string suite in Suites)
            foreach (string dir in Directory.GetDirectories(Path.Combine(Root, suite)).OrderBy(d => d, StringComparer.Ordinal))
                if (File.Exists(Path.Combine(dir, "model.onnx")) && Directory.Exists(Path.Combine(dir, "test_data_set_0"))
                    && (only.Length == 0 || only.Any(o => Path.GetFileName(dir).Contains(o, StringComparison.Ordinal))))
                    results.Add(Run(suite, dir));
        if (only.Length > 0)
        {
            File.WriteAllLines(Path.Combine(Path.GetTempPath(), "conformance-cases.txt"), results.Select(r => $"{Key(r)}: {r.Outcome} {r.Why}"));
            return;
        }
        Assert.True(results.Count > 1000, $"only {results.Count} cases found");
        // Every file is hostile input: each case ends in a model whose code compiles, or in diagnostics; never MC0008.
        var broken = results.Where(r => r.Why.StartsWith("MC0008", StringComparison.Ordinal) || r.Why.StartsWith("generated code", StringComparison.Ordinal)).ToList();
        Assert.True(broken.Count == 0, "cases that broke the generator:\n" + string.Join("\n", broken.Select(r => Key(r) + ": " + r.Why)));

        string repository = GeneratorDiagnosticsTests.RepositoryRoot();
        string listPath = Path.Combine(repository, "tests", "ModelCompiler.Tests", "Onnx", "conformance-passing.txt");
        if (Environment.GetEnvironmentVariable("MODELCOMPILER_ACCEPT_CONFORMANCE") == "1")
        {
            File.WriteAllLines(listPath, results.Where(r => r.Outcome == Outcome.Passed).Select(Key));
            File.WriteAllText(Path.Combine(repository, "docs", "onnx-conformance.md"), Report(results));
        }
        var passing = new HashSet<string>(results.Where(r => r.Outcome == Outcome.Passed).Select(Key), StringComparer.Ordinal);
        var expected = File.ReadAllLines(listPath).Where(l => l.Length > 0).ToList();
        var regressed = expected.Where(k => !passing.Contains(k)).ToList();
        Assert.True(regressed.Count == 0, "conformance cases that passed before fail now:\n" + string.Join("\n",
            regressed.Select(k => k + ": " + results.FirstOrDefault(r => Key(r) == k)?.Why)));
    }

    private static string Key(Result r) => r.Suite + "/" + r.Name;

    private static Result Run(string suite, string dir)
    {
        string name = Path.GetFileName(dir);
        string data = Path.Combine(dir, "test_data_set_0");
        var inputs = Directory.GetFiles(data, "input_*.pb").OrderBy(f => f, StringComparer.Ordinal).Select(TensorFile.Read).ToList();
        var outputs = Directory.GetFiles(data, "output_*.pb").OrderBy(f => f, StringComparer.Ordinal).Select(TensorFile.Read).ToList();
        bool float32 = inputs.Concat(outputs).All(t => t.DataType == 1);
        Result Make(Outcome outcome, string why) => new(suite, name, outcome, why, float32);
        if (inputs.Count == 0 || outputs.Count == 0)
            return Make(Outcome.NotSupported, $"{inputs.Count} inputs and {outputs.Count} outputs: a compiled model computes outputs from inputs");
        if (inputs.Concat(outputs).FirstOrDefault(t => t.Values is null) is { } other)
            return Make(Outcome.NotSupported, $"{TensorFile.TypeName(other.DataType)} data: a compiled model takes and gives float32, float16, integer and boolean tensors");

        string folder = GeneratorHarness.TempFolder();
        try
        {
            string model = Path.Combine(folder, "model.onnx");
            File.Copy(Path.Combine(dir, "model.onnx"), model);
            GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(model) });
            // The model's Predict takes one span per input and output: a wrapper compiled with it calls it from arrays.
            // Each array cast to its element type; a model with one float32 input and output has the Predict with maxDegreeOfParallelism.
            bool plain = inputs.Count == 1 && outputs.Count == 1 && float32;
            string call = string.Join(", ", inputs.Select((t, k) => $"({t.Values!.GetType().GetElementType()!.FullName}[])i[{k}]")
                .Concat(outputs.Select((t, k) => $"({t.Values!.GetType().GetElementType()!.FullName}[])o[{k}]"))) + (plain ? ", batch, 1" : ", batch");
            string wrapper = "namespace Demo;\npublic static class Harness\n{\n    public static void Run(System.Array[] i, System.Array[] o, int batch) => Net.Predict(" + call + ");\n}\n";
            driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("Model.cs", Source), ("Harness.cs", wrapper)), out Compilation output, out _);
            GeneratorRunResult run = driver.GetRunResult().Results.Single();
            if (run.Diagnostics.Length > 0)
            {
                Diagnostic first = run.Diagnostics[0];
                return Make(Outcome.NotSupported, first.Id + ": " + first.GetMessage(CultureInfo.InvariantCulture));
            }
            using var stream = new MemoryStream();
            var emitted = output.Emit(stream);
            if (!emitted.Success)
                return Make(Outcome.Failed, "generated code does not compile: " + emitted.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error));
            stream.Position = 0;
            var context = new AssemblyLoadContext(name, isCollectible: true);
            try
            {
                Type type = context.LoadFromStream(stream).GetType("Demo.Harness", throwOnError: true)!;
                var predict = type.GetMethod("Run")!.CreateDelegate<HarnessRun>();
                int batch = inputs[0].Dims.Length == 0 ? 1 : (int)inputs[0].Dims[0];
                Array[] actual = outputs.Select(t => Array.CreateInstance(t.Values!.GetType().GetElementType()!, t.Values.Length)).ToArray();
                // The first dimension is the batch, unless the model was compiled whole (then one call is one sample): a
                // Predict that refuses the spans' lengths writes nothing, so the other reading can be tried.
                Array[] given = inputs.Select(t => t.Values!).ToArray();
                try
                {
                    predict(given, actual, batch);
                }
                catch (ArgumentException) when (batch != 1)
                {
                    try
                    {
                        predict(given, actual, 1);
                    }
                    catch (ArgumentException e)
                    {
                        return Make(Outcome.Failed, e.Message);
                    }
                }
                catch (ArgumentException e)
                {
                    return Make(Outcome.Failed, e.Message);
                }
                for (int k = 0; k < outputs.Count; k++)
                {
                    if (Compare(actual[k], outputs[k].Values!) is { } error)
                        return Make(Outcome.Failed, (outputs.Count > 1 ? $"output {k}: " : "") + error);
                }
                return Make(Outcome.Passed, "");
            }
            finally
            {
                context.Unload();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// onnx's backend tests: <c>|actual − expected| ≤ 1e-7 + 1e-3 · |expected|</c>, NaN where NaN is expected, for floats
    /// of any width; integers and booleans exactly.
    /// </summary>
    private static string? Compare(Array actual, Array expected)
    {
        bool floating = expected is float[] or Half[];
        for (int i = 0; i < expected.Length; i++)
        {
            double a = Number(actual.GetValue(i)!), e = Number(expected.GetValue(i)!);
            bool ok = !floating ? a == e
                : double.IsNaN(e) ? double.IsNaN(a) : double.IsInfinity(e) ? a == e : Math.Abs(a - e) <= 1e-7 + 1e-3 * Math.Abs(e);
            if (!ok) return $"output {i} is {a.ToString("G9", CultureInfo.InvariantCulture)}, expected {e.ToString("G9", CultureInfo.InvariantCulture)}";
        }
        return null;
    }

    private static double Number(object value) => value switch
    {
        bool b => b ? 1 : 0,
        Half h => (double)h,
        _ => Convert.ToDouble(value, CultureInfo.InvariantCulture),
    };

    private static string Report(List<Result> results)
    {
        var w = new StringBuilder();
        w.AppendLine("# ONNX conformance");
        w.AppendLine();
        w.AppendLine("Generated by `OnnxConformanceTests` (`MODELCOMPILER_ACCEPT_CONFORMANCE=1 dotnet test --project tests/ModelCompiler.Tests -c Release -p:TestTier=all -- --filter-class \"*OnnxConformanceTests\"`)");
        w.AppendLine("from Debian's `libonnx-testdata`: each case's model compiled by the generator, its code compiled and run on");
        w.AppendLine("`test_data_set_0`, compared as onnx's backend tests do (`rtol 1e-3, atol 1e-7`). The passing cases are");
        w.AppendLine("`tests/ModelCompiler.Tests/Onnx/conformance-passing.txt`; CI fails when one of them stops passing.");
        w.AppendLine();
        var float32 = results.Where(r => r.Float32).ToList();
        w.AppendLine($"**{float32.Count(r => r.Outcome == Outcome.Passed)} of {float32.Count} float32 cases pass** (cases whose inputs and outputs are all float32); {results.Count(r => r.Outcome == Outcome.Passed)} of {results.Count} cases in all.");
        w.AppendLine();
        w.AppendLine("| suite | cases | passed | failed | not supported | float32 cases | float32 passed |");
        w.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var g in results.GroupBy(r => r.Suite))
            w.AppendLine($"| {g.Key} | {g.Count()} | {g.Count(r => r.Outcome == Outcome.Passed)} | {g.Count(r => r.Outcome == Outcome.Failed)} | {g.Count(r => r.Outcome == Outcome.NotSupported)} | {g.Count(r => r.Float32)} | {g.Count(r => r.Float32 && r.Outcome == Outcome.Passed)} |");
        w.AppendLine();
        w.AppendLine("## Why cases do not compile, most common first");
        w.AppendLine();
        w.AppendLine("| reason (the diagnostic, with names and numbers taken out) | cases |");
        w.AppendLine("|---|---:|");
        foreach (var g in results.Where(r => r.Outcome == Outcome.NotSupported).GroupBy(r => Reason(r.Why)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal))
            w.AppendLine($"| {Cell(g.Key)} | {g.Count()} |");
        w.AppendLine();
        foreach (var g in results.GroupBy(r => r.Suite))
        {
            w.AppendLine($"## {g.Key}");
            w.AppendLine();
            w.AppendLine("| case | float32 | result |");
            w.AppendLine("|---|---|---|");
            foreach (Result r in g)
                w.AppendLine($"| {r.Name} | {(r.Float32 ? "yes" : "no")} | {(r.Outcome == Outcome.Passed ? "passed" : (r.Outcome == Outcome.Failed ? "**failed**: " : "not supported: ") + Cell(r.Why))} |");
            w.AppendLine();
        }
        return w.ToString();
    }

    /// <summary>A diagnostic with the node's name, quoted values and numbers generalised, so alike reasons group together.</summary>
    private static string Reason(string why)
    {
        string s = System.Text.RegularExpressions.Regex.Replace(why, "ONNX node '[^']*'", "ONNX node");
        s = System.Text.RegularExpressions.Regex.Replace(s, "'[^']*'", "'…'");
        s = System.Text.RegularExpressions.Regex.Replace(s, "\\[[^\\]]*\\]", "[…]");
        s = System.Text.RegularExpressions.Regex.Replace(s, "\\b[0-9]+\\b", "N");
        int list = s.IndexOf(" is not among the supported operators", StringComparison.Ordinal);
        if (list >= 0) s = s.Substring(0, list + " is not among the supported operators".Length);
        return s.Length > 160 ? s.Substring(0, 157) + "…" : s;
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    /// <summary>One tensor of a case: float32 values (or null for other types), its dimensions and ONNX data type.</summary>
    /// <summary>A test data tensor: its values as an array of the element type (float[], long[], bool[], …), or null for strings and the like.</summary>
    private sealed record Tensor(long[] Dims, int DataType, Array? Values);

    /// <summary>A serialized TensorProto (the fields of onnx.proto by number): dims 1, data_type 2, float_data 4, raw_data 9.</summary>
    private static class TensorFile
    {
        public static Tensor Read(string path)
        {
            byte[] bytes = File.ReadAllBytes(path);
            var dims = new List<long>();
            var floats = new List<float>();
            var varints = new List<ulong>(); // int32_data (5), int64_data (7), uint64_data (11)
            int dataType = 0;
            byte[]? raw = null;
            int at = 0;
            while (at < bytes.Length)
            {
                ulong tag = Varint(bytes, ref at);
                int field = (int)(tag >> 3), wire = (int)(tag & 7);
                switch (wire)
                {
                    case 0:
                        ulong v = Varint(bytes, ref at);
                        if (field == 1) dims.Add((long)v);
                        else if (field == 2) dataType = (int)v;
                        else if (field is 5 or 7 or 11) varints.Add(v);
                        break;
                    case 1: at += 8; break;
                    case 5:
                        if (field == 4) floats.Add(BitConverter.ToSingle(bytes, at));
                        at += 4;
                        break;
                    case 2:
                        int length = (int)Varint(bytes, ref at);
                        if (field == 1) { int end = at + length; while (at < end) dims.Add((long)Varint(bytes, ref at)); break; }
                        if (field == 4) for (int i = 0; i < length; i += 4) floats.Add(BitConverter.ToSingle(bytes, at + i));
                        if (field is 5 or 7 or 11) { int end = at + length; int p = at; while (p < end) varints.Add(Varint(bytes, ref p)); }
                        if (field == 9) raw = bytes.AsSpan(at, length).ToArray();
                        at += length;
                        break;
                    default: throw new InvalidDataException($"{path}: wire type {wire}");
                }
            }
            T[] From<T>(Func<ulong, T> ofVarint) where T : struct =>
                raw is not null ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(raw).ToArray() : varints.Select(ofVarint).ToArray();
            Array? values = dataType switch
            {
                1 => raw is not null ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).ToArray() : floats.ToArray(),
                10 => From(v => BitConverter.UInt16BitsToHalf((ushort)v)),
                7 => From(v => (long)v),
                6 => From(v => (int)v),
                5 => From(v => (short)v),
                3 => From(v => (sbyte)v),
                13 => From(v => v),
                12 => From(v => (uint)v),
                4 => From(v => (ushort)v),
                2 => From(v => (byte)v),
                9 => raw is not null ? raw.Select(b => b != 0).ToArray() : varints.Select(v => v != 0).ToArray(),
                _ => null,
            };
            return new Tensor(dims.ToArray(), dataType, values);
        }

        public static string TypeName(int dataType) => dataType switch
        {
            1 => "float32", 2 => "uint8", 3 => "int8", 4 => "uint16", 5 => "int16", 6 => "int32", 7 => "int64", 8 => "string", 9 => "bool",
            10 => "float16", 11 => "float64", 12 => "uint32", 13 => "uint64", 16 => "bfloat16", _ => "type " + dataType.ToString(CultureInfo.InvariantCulture),
        };

        private static ulong Varint(byte[] bytes, ref int at)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = bytes[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
        }
    }
}
