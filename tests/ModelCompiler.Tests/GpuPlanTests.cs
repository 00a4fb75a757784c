extern alias generator;

using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;
using BroadcastOp = generator::ModelCompiler.Generator.Model.BroadcastOp;
using ConvOp = generator::ModelCompiler.Generator.Model.ConvOp;
using GpuForm = generator::ModelCompiler.Generator.Model.GpuForm;
using KernelPlan = generator::ModelCompiler.Generator.Model.KernelPlan;
using ModelPlan = generator::ModelCompiler.Generator.Model.ModelPlan;
using Steps = generator::ModelCompiler.Generator.ModelGenerator.Steps;

namespace ModelCompiler.Tests;

/// <summary>
/// The GPU decisions are made before Emit (Passes/PlanGpu) and recorded in the plan: each kernel's form, and the residual
/// Adds a GEMM's store computes — only where the arena kept the GEMM's inputs live through the Add (LowerToPlan), so the
/// arena and the GPU code cannot disagree.
/// </summary>
public class GpuPlanTests
{
    private const string Source = """
        using ModelCompiler;

        namespace Demo;

        [CompileModel(Weights = "relu_mlp.safetensors")]
        public static partial class ResidualLinear
        {
            static Tensor Forward([Shape(17)] Tensor x)
            {
                Tensor g = x.Linear("a").Relu();
                Tensor r = (g * 0.5f).Linear("b");
                Tensor h = g.Linear("b");
                Tensor kept = (h + r).Relu().Concat(h.Sigmoid(), 0);
                Tensor s = (g * -0.25f).Linear("b");
                return kept.Concat(((g + 1f).Linear("b").Tanh() + s) * 2f, 0);
            }
        }

        [CompileModel(Weights = "small_cnn.safetensors")]
        public static partial class ConvResidual
        {
            static Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                Tensor r = x.Conv2d("conv1", padding: 2, dilation: 2);
                Tensor h = x.Conv2d("conv1", padding: 1);
                Tensor g = x.Conv2d("conv1", padding: 3, dilation: 3).Sigmoid();
                return (h + r).Relu().Concat((g + r).Relu(), 0);
            }
        }
        """;

    private static ModelPlan[] Plans(bool gpu) => Plans(gpu, Source, "relu_mlp.safetensors", "small_cnn.safetensors");

    private static ModelPlan[] Plans(bool gpu, string source, params string[] weights)
    {
        string models = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "tests", "ModelCompiler.TestModels", "Models");
        GeneratorDriver driver = GeneratorHarness.Driver(weights.Select(f => new GeneratorHarness.BinaryAdditionalText(Path.Combine(models, f))).ToArray());
        Compilation compilation = GeneratorHarness.Compilation(("Models.cs", source));
        if (gpu)
            compilation = compilation.AddReferences(
                MetadataReference.CreateFromFile(typeof(ModelCompiler.Gpu.GpuModel).Assembly.Location),
                MetadataReference.CreateFromFile(typeof(ILGPU.Runtime.Accelerator).Assembly.Location));
        driver = driver.RunGenerators(compilation);
        return driver.GetRunResult().Results.Single().TrackedSteps[Steps.Plans]
            .SelectMany(s => s.Outputs).Select(o => (ModelPlan)o.Value).OrderBy(p => p.ClassName).ToArray();
    }

    [Fact]
    public void Residual_adds_fold_into_the_GEMM_before_them_only_where_the_arena_keeps_its_inputs_live()
    {
        ModelPlan[] plans = Plans(gpu: true);
        Assert.Equal(new[] { "ConvResidual", "ResidualLinear" }, plans.Select(p => p.ClassName));
        foreach (ModelPlan plan in plans)
        {
            var gpu = plan.GpuPlan!;
            Assert.Equal(plan.Kernels.Count, gpu.Kernels.Count);
            foreach (var decision in gpu.Kernels.Where(k => k.FoldedAdd >= 0))
            {
                Assert.True(plan.Kernels[decision.Index].InputsLiveThroughNext, $"{plan.ClassName} K{decision.Index} folds an Add the arena did not plan for");
                Assert.Equal(decision.Index + 1, decision.FoldedAdd);
                Assert.True(gpu.Kernels[decision.FoldedAdd].FusedAway);
            }
        }
        // Two Adds right after a Linear (the third follows a Tanh) and one right after the convolution with a Sigmoid; the
        // convolution without one adds r in its store on the CPU too (its B), so the GPU has no Add of its own to fold there.
        Assert.Equal(1, plans[0].GpuPlan!.Kernels.Count(k => k.FoldedAdd >= 0));
        Assert.Equal(GpuForm.ImplicitGemm, plans[0].GpuPlan!.Kernels[plans[0].GpuPlan!.Kernels.Single(k => k.FoldedAdd >= 0).Index].Form);
        KernelPlan skip = Assert.Single(plans[0].Kernels, k => k.Op is ConvOp && k.B is not null);
        Assert.Equal(plans[0].Kernels[0].Output, skip.B);                          // r, the first convolution's value
        Assert.Equal(GpuForm.ImplicitGemm, plans[0].GpuPlan!.Kernels[skip.Index].Form);
        Assert.Equal(-1, plans[0].GpuPlan!.Kernels[skip.Index].FoldedAdd);
        Assert.Single(plans[0].Kernels, k => k.Op is BroadcastOp);                 // g + r alone
        Assert.Equal(2, plans[1].GpuPlan!.Kernels.Count(k => k.FoldedAdd >= 0));
        Assert.All(plans[1].GpuPlan!.Kernels.Where(k => k.FoldedAdd >= 0), k => Assert.Equal(GpuForm.Gemm, k.Form));
    }

    [Fact]
    public void A_CPU_only_project_gets_no_GPU_decisions_and_no_arena_kept_for_them()
    {
        ModelPlan[] plans = Plans(gpu: false);
        Assert.Equal(2, plans.Length);
        Assert.All(plans, p => Assert.Null(p.GpuPlan));
        Assert.All(plans.SelectMany(p => p.Kernels), k => Assert.False(k.InputsLiveThroughNext));
    }

    [Fact]
    public void A_decoder_gets_its_session_kernels_and_matrix_vector_products_for_decode_steps()
    {
        const string decoders = """
            using ModelCompiler;
            namespace Demo;
            [CompileModel(Weights = "tiny_llama.safetensors")]
            public static partial class Float { static Tensor Forward([Shape(1)] Tensor t) => Layer(t); internal static Tensor Layer(Tensor t)
            {
                Tensor x = t.Embedding("model.embed_tokens"), h = x.RmsNorm("model.layers.0.input_layernorm");
                Tensor q = h.Linear("model.layers.0.self_attn.q_proj").Rotary(16), k = h.Linear("model.layers.0.self_attn.k_proj").Rotary(16, theta: 500f);
                Tensor v = h.Linear("model.layers.0.self_attn.v_proj");
                return (x + q.CachedAttention(k, v, 4, 2).Linear("model.layers.0.self_attn.o_proj")).RmsNorm("model.norm").Linear("lm_head");
            } }
            [CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int8)]
            public static partial class Int8 { static Tensor Forward([Shape(1)] Tensor t) => Float.Layer(t); }
            [CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int4)]
            public static partial class Int4 { static Tensor Forward([Shape(1)] Tensor t) => Float.Layer(t); }
            """;
        ModelPlan[] plans = Plans(gpu: true, decoders, "tiny_llama.safetensors");
        Assert.Equal(new[] { "Float", "Int4", "Int8" }, plans.Select(p => p.ClassName));
        foreach (ModelPlan plan in plans)
        {
            var gpu = plan.GpuPlan!;
            GpuForm Form(generator::ModelCompiler.Generator.Model.KernelKind kind) => gpu.Kernels[plan.Kernels.First(k => k.Kind == kind).Index].Form;
            Assert.Equal(GpuForm.Rows, Form(generator::ModelCompiler.Generator.Model.KernelKind.RmsNorm));
            Assert.Equal(GpuForm.CachedAttention, Form(generator::ModelCompiler.Generator.Model.KernelKind.CachedAttention));
            // Two rotary kernels of different θ: two tables, each kernel reading its own.
            var rotary = plan.Kernels.Where(k => k.Kind == generator::ModelCompiler.Generator.Model.KernelKind.Rotary).Select(k => gpu.Kernels[k.Index]).ToArray();
            Assert.All(rotary, r => Assert.Equal(GpuForm.Rotary, r.Form));
            Assert.Equal(new[] { 0, 1 }, rotary.Select(r => r.RotaryTable));
            Assert.Equal(new[] { 10000f, 500f }, gpu.RotaryTables.Select(t => t.Theta));
            // Every Linear is a GEMM; the float32 and int4 ones also get a matrix-vector kernel, the int8 ones keep their
            // integer GEMM. Int4 layers read rows rounded to int8: q's rounding serves k and v (the same h, nothing written
            // over it between), o_proj and lm_head read other values and round their own.
            var linears = plan.Kernels.Where(k => k.Kind == generator::ModelCompiler.Generator.Model.KernelKind.Linear).Select(k => gpu.Kernels[k.Index]).ToArray();
            Assert.Equal(5, linears.Length);
            Assert.All(linears, l => Assert.Equal(GpuForm.Gemm, l.Form));
            Assert.All(linears, l => Assert.Equal(plan.ClassName != "Int8", l.Gemv));
            Assert.Equal(plan.ClassName == "Int4" ? new[] { true, false, false, true, true } : new bool[5], linears.Select(l => l.RoundsRows));
        }
    }
}
