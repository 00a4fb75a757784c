// ONNX GridSample: the input read at the points of a grid (SamplingOps, Kernels.GridSample).
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>
        /// GridSample (opset 16's bilinear/nearest/bicubic and opset 20's linear/nearest/cubic names) on a 4-D input
        /// <c>[N, C, H, W]</c> and a grid <c>[N, Ho, Wo, 2]</c> computed by the graph (a spatial transformer's AffineGrid, a
        /// flow field); padding zeros, border or reflection; align_corners.
        /// </summary>
        private void LowerGridSample(OnnxNode node, string name)
        {
            string x = Input(node, 0), grid = Input(node, 1);
            if (RankOf(x) != 4 + Lead) throw Unsupported(node, "only 2-D sampling ([N, C, H, W] by a grid of [N, Ho, Wo, 2]) is supported");
            if (_constants.ContainsKey(grid)) throw Unsupported(node, $"the grid '{grid}' is a constant: only a grid computed by the graph is supported");
            GridSampleMode mode = Text(node, "mode", "linear") switch
            {
                "bilinear" or "linear" => GridSampleMode.Linear,
                "nearest" => GridSampleMode.Nearest,
                "bicubic" or "cubic" => GridSampleMode.Cubic,
                var other => throw Unsupported(node, $"mode '{other}' is not one ONNX defines"),
            };
            GridSamplePadding padding = Text(node, "padding_mode", "zeros") switch
            {
                "zeros" => GridSamplePadding.Zeros,
                "border" => GridSamplePadding.Border,
                "reflection" => GridSamplePadding.Reflection,
                var other => throw Unsupported(node, $"padding_mode '{other}' is not one ONNX defines"),
            };
            Activation(node, Output(node), OpKind.GridSample, new[] { Act(node, x), Act(node, grid) }, RankOf(x),
                settings: new GridSampleSettings(mode, padding, IntAttribute(node, "align_corners", 0) != 0));
        }
    }
}
