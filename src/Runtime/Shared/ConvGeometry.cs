// Compiled into both the runtime (the convolution kernels read it) and the generator (which plans it and prints it
// into generated code): one record of a convolution's sizes, named, so no kernel or emitter decodes them by position.
namespace ModelCompiler.Kernels;

/// <summary>
/// The sizes of one convolution over samples <c>[Channels, Height, Width]</c> (a 1-D convolution: height 1 and no
/// vertical padding): what <c>Convolution.Conv2d</c>, <c>Convolution.Depthwise</c>, <c>DirectConvolution.Run</c> and
/// <c>WinogradConvolution.Run</c> compute, as PyTorch's <c>conv2d</c> with zero padding describes it.
/// </summary>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height (1 in 1-D).</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels.</param>
/// <param name="KernelHeight">Filter height (1 in 1-D).</param>
/// <param name="KernelWidth">Filter width.</param>
/// <param name="Stride">Step between windows, both ways.</param>
/// <param name="Padding">Zeros added left and right of each row.</param>
/// <param name="Dilation">Step between filter taps.</param>
/// <param name="OutHeight">Output height.</param>
/// <param name="OutWidth">Output width.</param>
/// <param name="Groups">Channel groups (input and output channels each split evenly).</param>
/// <param name="VerticalPadding">Zeros added above and below each column (equal to <paramref name="Padding"/> in 2-D, 0 in 1-D).</param>
/// <param name="ChannelBlock">Direct convolution: output channels kept in registers at once (4, 6 or 8, chosen at build time).</param>
/// <param name="Pooled">Direct convolution: a 2×2, stride-2 max pool is fused into the store (the output is <c>[out, oh/2, ow/2]</c>).</param>
/// <param name="VerticalStride">The step between output rows when not <paramref name="Stride"/> (-1: the same); only the im2col and depthwise kernels take one.</param>
#if MODELCOMPILER_GENERATOR
internal
#else
public
#endif
sealed record ConvGeometry(
    int Channels, int Height, int Width, int OutChannels, int KernelHeight, int KernelWidth,
    int Stride, int Padding, int Dilation, int OutHeight, int OutWidth, int Groups, int VerticalPadding,
    int ChannelBlock = 4, bool Pooled = false, int VerticalStride = -1)
{
    /// <summary>The step between output rows: <see cref="VerticalStride"/>, or <see cref="Stride"/> when it is -1.</summary>
    public int RowStride => VerticalStride < 0 ? Stride : VerticalStride;

    /// <summary>Input channels per group.</summary>
    public int GroupChannels => Channels / Groups;

    /// <summary>Values in one output channel's filter: <c>GroupChannels · KernelHeight · KernelWidth</c>.</summary>
    public int FilterLength => Channels / Groups * KernelHeight * KernelWidth;

    /// <summary>
    /// A 1×1, stride-1 convolution without padding: its input is already the GEMM's right-hand matrix (channels by
    /// positions), which the im2col kernel reads in place.
    /// </summary>
    public bool Pointwise => KernelHeight == 1 && KernelWidth == 1 && Stride == 1 && RowStride == 1 && Padding == 0 && VerticalPadding == 0;
}
