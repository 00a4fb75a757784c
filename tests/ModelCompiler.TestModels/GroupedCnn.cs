namespace ModelCompiler.TestModels;

/// <summary>
/// Depthwise convolutions (a channel multiplier of 2 with BatchNorm folded in; strided and dilated without bias), a
/// grouped convolution, average pooling with padding, grouped and strided 1-D convolutions, Concat of two branches.
/// </summary>
[CompileModel(Weights = "grouped_cnn.safetensors")]
public static partial class GroupedCnn
{
    static Tensor Forward([Shape(4, 7, 21)] Tensor x)
    {
        Tensor h = x.Conv2d("dw", padding: 1, groups: 4).BatchNorm("bn0").Relu();          // [8, 7, 21]
        Tensor s = x.Conv2d("dws", stride: 2, padding: 2, dilation: 2, groups: 4);          // [4, 4, 11]
        h = h.Conv2d("grouped", stride: 2, groups: 2).BatchNorm("bn1").Silu();              // [6, 3, 10]
        h = h.AvgPool2d(3, stride: 1, padding: 1);                                           // [6, 3, 10]
        Tensor line = h.Reshape(6, 30).Conv1d("c1", padding: 2, dilation: 2, groups: 3);   // [6, 30]
        line = line.Conv1d("c2", stride: 2).BatchNorm("bn2");                                // [5, 14]
        return line.Mean(1).Concat(s.GlobalAvgPool(), 0).Linear("fc");                      // [9] → [3]
    }
}
