// ONNX operators of the convolution family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        private const string WholeConvolution = "its input's first dimension must be the batch, and this graph is compiled whole "
            + "(its inputs do not all have one, or it computes across it)";

        /// <summary>Conv.</summary>
        private void LowerConv(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            int rank = RankOf(x);
            OnnxConstant w = Const(node, Input(node, 1));
            if (w.Floats is null || w.Dims.Length != rank || rank is not (3 or 4)) throw Unsupported(node, "only 1-D and 2-D convolutions with float32 weights are supported");
            int spatial = rank - 2;
            int stride = Uniform(node, "strides", spatial, 1), dilation = Uniform(node, "dilations", spatial, 1);
            // Rectangular kernels (1×3, 3×1) and a padding per axis; the strides and dilations are the same on both.
            int[] kernel = w.Dims.Skip(2).Select(k => (int)k).ToArray();
            int[] padding = Padding(node, x, spatial, kernel, stride, dilation);
            int groups = (int)IntAttribute(node, "group", 1);
            _weights.Add(new(name + ".weight", w));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
            var settings = new ConvSettings(stride, padding[spatial - 1], dilation, groups) { VerticalPadding = spatial == 2 ? padding[0] : -1 };
            Activation(node, Output(node), rank == 4 ? OpKind.Conv2d : OpKind.Conv1d, new[] { Act(node, x) }, rank, name, settings: settings);
        }

        /// <summary>MaxPool, AveragePool.</summary>
        private void LowerPool(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            if (RankOf(x) != 4) throw Unsupported(node, "only 2-D pooling is supported");
            if (node.OpType == "MaxPool" && node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported(node, "the indices output is not supported");
            int kernel = Uniform(node, "kernel_shape", 2, -1), stride = Uniform(node, "strides", 2, 1);
            int[] pads = Padding(node, x, 2, new[] { kernel, kernel }, stride, 1, IntAttribute(node, "ceil_mode", 0) != 0);
            if (pads[0] != pads[1]) throw Unsupported(node, $"padding {pads[0]} above and {pads[1]} beside: only the same padding on every side is supported for pools");
            int padding = pads[0];
            if (Uniform(node, "dilations", 2, 1) != 1) throw Unsupported(node, "dilated pooling is not supported");
            if (node.OpType == "AveragePool" && padding > 0 && IntAttribute(node, "count_include_pad", 0) == 0)
                throw Unsupported(node, "averaging padded windows over the real values only (count_include_pad = 0) is not supported");
            Activation(node, Output(node), node.OpType == "MaxPool" ? OpKind.MaxPool2d : OpKind.AvgPool2d, new[] { Act(node, x) }, 4, settings: new PoolSettings(kernel, stride, padding));
        }

        /// <summary>GlobalAveragePool.</summary>
        private void LowerGlobalAveragePool(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            if (RankOf(x) != 4) throw Unsupported(node, "only [N, C, H, W] inputs are supported");
            int pooled = Record(node, OpKind.GlobalAvgPool, new[] { Act(node, x) });
            // ONNX keeps the pooled dimensions: [N, C, 1, 1].
            int kept = Record(node, OpKind.Reshape, new[] { pooled }, settings: new ReshapeSettings(new EquatableArray<int>(new[] { -1, 1, 1 })));
            _activations[Output(node)] = kept;
            _ranks[Output(node)] = 4;
        }

        /// <summary>GlobalMaxPool: the largest value of each channel's plane, [N, C, H, W] → [N, C, 1, 1] (two reductions).</summary>
        private void LowerGlobalMaxPool(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            int rank = RankOf(x);
            if (rank < 3) throw Unsupported(node, "the input must be [N, C, …]");
            int result = Act(node, x);
            for (int axis = rank - 2; axis >= 1; axis--)
                result = Record(node, OpKind.Reduce, new[] { result }, settings: new ReduceSettings(axis, ReduceKind.Max));
            int[] kept = new[] { SampleShape(node, x)[0] }.Concat(Enumerable.Repeat(1, rank - 2)).ToArray();
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(kept)));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>BatchNormalization.</summary>
        private void LowerBatchNormalization(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) throw Unsupported(node, "training-mode outputs are not supported");
            if (IntAttribute(node, "spatial", 1) != 1) throw Unsupported(node, "spatial = 0 (statistics per position, before opset 9) is not supported");
            string x = Input(node, 0);
            string[] parts = { "weight", "bias", "running_mean", "running_var" };
            for (int i = 0; i < 4; i++) _weights.Add(new(name + "." + parts[i], Const(node, Input(node, i + 1))));
            Activation(node, Output(node), OpKind.BatchNorm, new[] { Act(node, x) }, RankOf(x), name, FloatAttribute(node, "epsilon", 1e-5f));
        }
    }
}
