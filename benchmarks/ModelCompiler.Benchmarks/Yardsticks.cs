
namespace ModelCompiler.Benchmarks;

/// <summary>LeNet-5 on 1×28×28 (random weights from make_models.py): issue 4's CNN yardstick.</summary>
[CompileModel(Weights = "lenet5.safetensors")]
public static partial class LeNet5
{
    static Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        var h = x.Conv2d("conv1", padding: 2).Relu().MaxPool2d(2);
        h = h.Conv2d("conv2").Relu().MaxPool2d(2);
        return h.Flatten().Linear("fc1").Relu().Linear("fc2").Relu().Linear("fc3");
    }
}

/// <summary>One post-norm transformer encoder block, d 256, 4 heads, feed-forward 1024, over 64 positions: issue 4's transformer yardstick.</summary>
[CompileModel(Weights = "encoder_block.safetensors")]
public static partial class EncoderBlock
{
    static Tensor Forward([Shape(64, 256)] Tensor x)
    {
        x = (x + x.MultiHeadAttention("self_attn", heads: 4)).LayerNorm("norm1");
        return (x + x.Linear("linear1").Relu().Linear("linear2")).LayerNorm("norm2");
    }
}

/// <summary>A ResNet basic block at 64 channels on 28×28: Winograd's yardstick (both convolutions take that route).</summary>
[CompileModel(Weights = "res_block64.safetensors")]
public static partial class ResBlock64
{
    static Tensor Forward([Shape(64, 28, 28)] Tensor x)
    {
        Tensor h = x.Conv2d("conv1", padding: 1).BatchNorm("bn1").Relu();
        return (h.Conv2d("conv2", padding: 1).BatchNorm("bn2") + x).Relu();
    }
}
