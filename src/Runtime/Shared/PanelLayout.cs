// Compiled into both the runtime and the generator: the generator packs weights at build time in
// exactly the layout that PackedLinear reads at run time.
namespace ModelCompiler.Kernels;

/// <summary>
/// The layout of a Linear layer's weights as the GEMM micro-kernels read them. A weight matrix
/// <c>W[n, k]</c> (PyTorch's <c>[out, in]</c>) is cut into panels of <see cref="PanelWidth"/> output
/// columns; each panel is stored K-major: for every k, the 16 weights of its 16 outputs side by side.
/// The last panel is padded with zeros. One panel row is one <c>Vector512&lt;float&gt;</c>, two
/// <c>Vector256</c> or four <c>Vector128</c>, so the same bytes serve every vector width.
/// </summary>
internal static class PanelLayout
{
    public const int PanelWidth = 16;

    public static int PanelCount(int n) => (n + PanelWidth - 1) / PanelWidth;

    /// <summary>Floats of the packed weights (padding included).</summary>
    public static int PackedLength(int n, int k) => PanelCount(n) * k * PanelWidth;

    /// <summary>Floats of the bias, padded to whole panels.</summary>
    public static int PaddedBiasLength(int n) => PanelCount(n) * PanelWidth;

    /// <summary>Packs row-major <paramref name="weight"/> <c>[n, k]</c> into <paramref name="destination"/> at <paramref name="offset"/>.</summary>
    public static void Pack(float[] weight, int n, int k, float[] destination, int offset)
    {
        int panels = PanelCount(n);
        for (int p = 0; p < panels; p++)
        {
            for (int kk = 0; kk < k; kk++)
            {
                int row = offset + (p * k + kk) * PanelWidth;
                for (int j = 0; j < PanelWidth; j++)
                {
                    int output = p * PanelWidth + j;
                    destination[row + j] = output < n ? weight[output * k + kk] : 0f;
                }
            }
        }
    }
}
