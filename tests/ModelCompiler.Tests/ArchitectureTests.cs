extern alias generator;

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The generator's stages depend one way (docs/architecture.md, "Folders depend one way"): read from the sources, so
/// that a new reference that closes a loop, or an emitter that reaches back into parsing or import, fails here.
/// </summary>
public class ArchitectureTests
{
    private static readonly string Generator = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "src", "Generator");

    private static readonly string[] Folders = { "Helpers", "Diagnostics", "Model", "Parsing", "Import", "Graph", "Ops", "Passes", "Pipeline", "Emit" };

    /// <summary>Each stage folder and the folders its files refer to (a using directive or a qualified name).</summary>
    private static Dictionary<string, HashSet<string>> Dependencies()
    {
        var dependencies = Folders.ToDictionary(f => f, _ => new HashSet<string>());
        foreach (string folder in Folders)
        {
            foreach (string file in Directory.GetFiles(Path.Combine(Generator, folder), "*.cs", SearchOption.AllDirectories))
            {
                string text = File.ReadAllText(file);
                foreach (string other in Folders.Where(o => o != folder))
                {
                    if (Regex.IsMatch(text, $@"using ModelCompiler\.Generator\.{other};|Generator\.{other}\.[A-Z]|(?<![\w.]){other}\.[A-Z]\w*\.[A-Z]"))
                        dependencies[folder].Add(other);
                }
            }
        }
        return dependencies;
    }

    [Fact]
    public void Every_stage_folder_exists_and_holds_sources()
    {
        foreach (string folder in Folders)
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(Generator, folder), "*.cs"));
    }

    [Fact]
    public void The_stage_folders_refer_to_each_other_without_a_loop()
    {
        Dictionary<string, HashSet<string>> dependencies = Dependencies();
        // Depth-first search for a cycle, reporting the first one found as a path.
        var state = new Dictionary<string, int>();
        var path = new List<string>();
        string? Visit(string folder)
        {
            state[folder] = 1;
            path.Add(folder);
            foreach (string next in dependencies[folder].OrderBy(n => n, StringComparer.Ordinal))
            {
                if (state.TryGetValue(next, out int s) && s == 1) return string.Join(" → ", path.Append(next));
                if (!state.ContainsKey(next) && Visit(next) is { } cycle) return cycle;
            }
            path.RemoveAt(path.Count - 1);
            state[folder] = 2;
            return null;
        }
        foreach (string folder in Folders)
        {
            if (!state.ContainsKey(folder) && Visit(folder) is { } cycle) Assert.Fail("the generator's folders refer to each other in a loop: " + cycle);
        }
    }

    [Fact]
    public void The_contracts_and_the_emitters_depend_on_no_stage()
    {
        Dictionary<string, HashSet<string>> dependencies = Dependencies();
        Assert.Subset(new HashSet<string> { "Helpers", "Diagnostics" }, dependencies["Model"]);
        // Emit prints the plan: it reads the contracts, never the parser, the importer, the IR or the passes.
        Assert.Subset(new HashSet<string> { "Helpers", "Diagnostics", "Model" }, dependencies["Emit"]);
        Assert.DoesNotContain("Pipeline", dependencies.Where(d => d.Key != "Pipeline").SelectMany(d => d.Value));
    }

    [Fact]
    public void Every_op_kind_has_a_shape_rule_in_the_catalogue() =>
        Assert.Empty(generator::ModelCompiler.Generator.Ops.OpCatalogue.KindsWithoutShapeRule());

    [Fact]
    public void Every_op_kind_but_the_sources_has_a_reference_evaluation_in_the_catalogue() =>
        Assert.Empty(generator::ModelCompiler.Generator.Ops.OpCatalogue.KindsWithoutEvaluation());

    [Fact]
    public void Every_kernel_kind_has_a_lowering_in_the_catalogue() =>
        Assert.Empty(generator::ModelCompiler.Generator.Ops.OpCatalogue.KernelKindsWithoutLowering());

    [Fact]
    public void Every_op_recorded_by_name_is_a_Tensor_method_and_the_ONNX_ones_are_supported_operators()
    {
        string[] methods = typeof(Tensor).GetMethods().Where(m => !m.IsStatic).Select(m => m.Name).ToArray();
        Assert.NotEmpty(generator::ModelCompiler.Generator.Ops.OpCatalogue.MethodNames);
        foreach (string name in generator::ModelCompiler.Generator.Ops.OpCatalogue.MethodNames)
            Assert.Contains(name, methods);
        Assert.Contains("Relu", generator::ModelCompiler.Generator.Ops.OpCatalogue.OnnxNames);
        Assert.Subset(new HashSet<string>(generator::ModelCompiler.Generator.Import.OnnxImporter.Supported),
            new HashSet<string>(generator::ModelCompiler.Generator.Ops.OpCatalogue.OnnxNames));
    }

    /// <summary>
    /// The stages look ops up in tables (the catalogue, the DSL and ONNX tables) instead of switching over them: no
    /// <c>switch</c> in the generator runs past 80 lines (the longest, Emit's printer of kernel payloads, is about 70).
    /// </summary>
    [Fact]
    public void No_switch_in_the_generator_grows_past_80_lines()
    {
        var offenders = new List<string>();
        foreach (string file in Directory.GetFiles(Generator, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string trimmed = lines[i].TrimStart();
                if (!Regex.IsMatch(trimmed, @"(^|\s)switch(\s*\(|$)")) continue;
                int indent = lines[i].Length - trimmed.Length, end = i + 1;
                while (end < lines.Length && !(lines[end].Length > indent && lines[end][indent] == '}' && lines[end].Substring(0, indent).Trim().Length == 0)) end++;
                if (end - i > 80) offenders.Add($"{Path.GetRelativePath(Generator, file)}:{i + 1} ({end - i} lines)");
            }
        }
        Assert.Empty(offenders);
    }

    [Fact]
    public void Only_the_weights_file_reader_touches_files()
    {
        var io = new Regex(@"\bFile\.(Read|Open|Exists|Get)|new FileStream\(|new FileInfo\(|\bDirectory\.(Get|Exists|Enumerate)");
        string[] offenders = Directory.GetFiles(Generator, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                && !f.Contains(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Where(f => Path.GetFileName(f) != "WeightsFileReader.cs" && io.IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(Generator, f)).ToArray();
        Assert.Empty(offenders);
    }
}
