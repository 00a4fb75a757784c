// The ONNX table: each operator's name mapped to the method that lowers it onto the op catalogue's kinds.
using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Ops;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>Lowers one node (its layer name given) by recording catalogue ops for its outputs.</summary>
        internal delegate void Handler(Lowering lowering, OnnxNode node, string name);

        /// <summary>
        /// Every operator the importer lowers, by its ONNX name; the methods sit in the family files beside this one
        /// (OnnxImporter.Elementwise, .Layout, .Linear, .Normalization, .Convolution, .Recurrent). Operators evaluated at build time on
        /// constants are <see cref="Foldable"/> (OnnxImporter.Folding); <see cref="Supported"/> is both.
        /// </summary>
        internal static readonly Dictionary<string, Handler> Operators = WithCatalogueNames(new(StringComparer.Ordinal)
        {
            ["Add"] = (l, n, s) => l.LowerArithmetic(n, s),
            ["And"] = (l, n, s) => l.LowerBinary(n, s),
            ["ArgMax"] = (l, n, s) => l.LowerArgMax(n, s),
            ["ArgMin"] = (l, n, s) => l.LowerArgMax(n, s),
            ["Equal"] = (l, n, s) => l.LowerBinary(n, s),
            ["Greater"] = (l, n, s) => l.LowerBinary(n, s),
            ["GreaterOrEqual"] = (l, n, s) => l.LowerBinary(n, s),
            ["Less"] = (l, n, s) => l.LowerBinary(n, s),
            ["LessOrEqual"] = (l, n, s) => l.LowerBinary(n, s),
            ["Mod"] = (l, n, s) => l.LowerBinary(n, s),
            ["Not"] = (l, n, s) => l.LowerNot(n, s),
            ["Or"] = (l, n, s) => l.LowerBinary(n, s),
            ["Where"] = (l, n, s) => l.LowerWhere(n, s),
            ["If"] = (l, n, s) => l.LowerIf(n, s),
            ["Scan"] = (l, n, s) => l.LowerScan(n, s),
            ["Loop"] = (l, n, s) => l.LowerLoop(n, s),
            ["Xor"] = (l, n, s) => l.LowerBinary(n, s),
            ["AveragePool"] = (l, n, s) => l.LowerPool(n, s),
            ["BatchNormalization"] = (l, n, s) => l.LowerBatchNormalization(n, s),
            ["Cast"] = (l, n, s) => l.LowerCast(n, s),
            ["Clip"] = (l, n, s) => l.LowerClip(n, s),
            ["Concat"] = (l, n, s) => l.LowerConcat(n, s),
            ["Constant"] = (l, n, s) => l.LowerConstant(n, s),
            ["Conv"] = (l, n, s) => l.LowerConv(n, s),
            ["DequantizeLinear"] = (l, n, s) => l.LowerDequantizeLinear(n, s),
            ["Div"] = (l, n, s) => l.LowerArithmetic(n, s),
            ["Dropout"] = (l, n, s) => l.LowerDropout(n, s),
            ["Flatten"] = (l, n, s) => l.LowerFlatten(n, s),
            ["Gather"] = (l, n, s) => l.LowerGather(n, s),
            ["Gelu"] = (l, n, s) => l.LowerGelu(n, s),
            ["GRU"] = (l, n, s) => l.LowerRecurrent(n, s),
            ["LSTM"] = (l, n, s) => l.LowerRecurrent(n, s),
            ["RNN"] = (l, n, s) => l.LowerRecurrent(n, s),
            ["Gemm"] = (l, n, s) => l.LowerGemm(n, s),
            ["GlobalMaxPool"] = (l, n, s) => l.LowerGlobalMaxPool(n, s),
            ["GlobalAveragePool"] = (l, n, s) => l.LowerGlobalAveragePool(n, s),
            ["HardSigmoid"] = (l, n, s) => l.LowerHardSigmoid(n, s),
            ["HardSwish"] = (l, n, s) => l.LowerHardSigmoid(n, s),
            ["Identity"] = (l, n, s) => l.LowerIdentity(n, s),
            ["LayerNormalization"] = (l, n, s) => l.LowerLayerNormalization(n, s),
            ["Elu"] = (l, n, s) => l.LowerElu(n, s),
            ["DepthToSpace"] = (l, n, s) => l.LowerDepthToSpace(n, s),
            ["SpaceToDepth"] = (l, n, s) => l.LowerDepthToSpace(n, s),
            ["Tile"] = (l, n, s) => l.LowerTile(n, s),
            ["InstanceNormalization"] = (l, n, s) => l.LowerChannelNormalization(n, s),
            ["GroupNormalization"] = (l, n, s) => l.LowerChannelNormalization(n, s),
            ["LRN"] = (l, n, s) => l.LowerLrn(n, s),
            ["MeanVarianceNormalization"] = (l, n, s) => l.LowerMeanVarianceNormalization(n, s),
            ["ConvTranspose"] = (l, n, s) => l.LowerConvTranspose(n, s),
            ["Resize"] = (l, n, s) => l.LowerResize(n, s),
            ["GridSample"] = (l, n, s) => l.LowerGridSample(n, s),
            ["GatherElements"] = (l, n, s) => l.LowerGatherElements(n, s),
            ["ScatterElements"] = (l, n, s) => l.LowerScatter(n, s, elements: true),
            ["Scatter"] = (l, n, s) => l.LowerScatter(n, s, elements: true), // ScatterElements before opset 11
            ["ScatterND"] = (l, n, s) => l.LowerScatter(n, s, elements: false),
            ["Upsample"] = (l, n, s) => l.LowerResize(n, s),
            ["Expand"] = (l, n, s) => l.LowerExpand(n, s),
            ["Max"] = (l, n, s) => l.LowerVariadic(n, s),
            ["Min"] = (l, n, s) => l.LowerVariadic(n, s),
            ["Sum"] = (l, n, s) => l.LowerVariadic(n, s),
            ["Mean"] = (l, n, s) => l.LowerVariadic(n, s),
            ["Selu"] = (l, n, s) => l.LowerElu(n, s),
            ["Celu"] = (l, n, s) => l.LowerElu(n, s),
            ["ThresholdedRelu"] = (l, n, s) => l.LowerElu(n, s),
            ["Shrink"] = (l, n, s) => l.LowerElu(n, s),
            ["PRelu"] = (l, n, s) => l.LowerPRelu(n, s),
            ["LeakyRelu"] = (l, n, s) => l.LowerLeakyRelu(n, s),
            ["LogSoftmax"] = (l, n, s) => l.LowerSoftmax(n, s),
            ["Hardmax"] = (l, n, s) => l.LowerSoftmax(n, s),
            ["MatMul"] = (l, n, s) => l.LowerMatMul(n, s),
            ["CumSum"] = (l, n, s) => l.LowerCumSum(n, s),
            ["MatMulInteger"] = (l, n, s) => l.LowerMatMulInteger(n, s),
            ["MaxPool"] = (l, n, s) => l.LowerPool(n, s),
            ["Mul"] = (l, n, s) => l.LowerArithmetic(n, s),
            ["Neg"] = (l, n, s) => l.LowerNeg(n, s),
            ["Pad"] = (l, n, s) => l.LowerPad(n, s),
            ["Pow"] = (l, n, s) => l.LowerPow(n, s),
            ["QuantizeLinear"] = (l, n, s) => l.LowerQuantizeLinear(n, s),
            ["ReduceMean"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceSum"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceMax"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceMin"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceProd"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceSumSquare"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceL1"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceL2"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceLogSum"] = (l, n, s) => l.LowerReduce(n, s),
            ["ReduceLogSumExp"] = (l, n, s) => l.LowerReduce(n, s),
            ["Reshape"] = (l, n, s) => l.LowerReshape(n, s),
            ["Slice"] = (l, n, s) => l.LowerSlice(n, s),
            ["Softmax"] = (l, n, s) => l.LowerSoftmax(n, s),
            ["Split"] = (l, n, s) => l.LowerSplit(n, s),
            ["Squeeze"] = (l, n, s) => l.LowerUnsqueeze(n, s),
            ["Sub"] = (l, n, s) => l.LowerArithmetic(n, s),
            ["Transpose"] = (l, n, s) => l.LowerTranspose(n, s),
            ["Unsqueeze"] = (l, n, s) => l.LowerUnsqueeze(n, s),
        });

        /// <summary>Operators refused with advice on what to do instead (they are not in <see cref="Supported"/>).</summary>
        internal static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
        {
            ["DynamicQuantizeLinear"] = "its scale is computed over the whole tensor, batch included, which couples the samples of a batch; "
                + "quantize statically (QuantizeLinear) or compile the float model with Quantize = Quantization.Int8",
        };

        /// <summary>The catalogue's ops named alike in ONNX (Relu, Sigmoid, …) join the table: adding one is the catalogue's business.</summary>
        private static Dictionary<string, Handler> WithCatalogueNames(Dictionary<string, Handler> table)
        {
            foreach (string op in OpCatalogue.OnnxNames) table.Add(op, (l, n, s) => l.LowerByName(n, s));
            return table;
        }
    }
}
