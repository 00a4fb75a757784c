namespace ModelCompiler.TestModels;

/// <summary>A small CNN on 8×8 images: convolutions with padding and stride, ReLU, max and global average pooling.</summary>
[CompileModel(Weights = "small_cnn.safetensors")]
public static partial class SmallCnn
{
    static Tensor Forward([Shape(1, 8, 8)] Tensor x) =>
        x.Conv2d("conv1", padding: 1).Relu().MaxPool2d(2)
         .Conv2d("conv2", stride: 2, padding: 1).Relu()
         .GlobalAvgPool().Linear("head");
}
