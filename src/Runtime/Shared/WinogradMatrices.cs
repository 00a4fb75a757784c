namespace ModelCompiler.Kernels;

/// <summary>
/// The matrices of Winograd's minimal filtering F(m×m, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016), m = 2 and m = 4 (the points 0, ±1, ±2, ∞, as NNPACK and ncnn): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for an
/// (m + 2)² input tile d and a 3×3 filter g. The build-time filter layouts (<c>WeightLayout</c>), the GPU's Winograd body
/// and the tests read them here; the CPU kernels' transforms (<c>Kernels/WinogradTiles</c>) are these, written out.
/// </summary>
internal static class WinogradMatrices
{
    private static readonly double[,] G2 = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
    private static readonly double[,] BT2 = { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } };
    private static readonly double[,] AT2 = { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } };

    private static readonly double[,] G4 =
    {
        { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
        { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 },
    };
    private static readonly double[,] BT4 =
    {
        { 4, 0, -5, 0, 1, 0 }, { 0, -4, -4, 1, 1, 0 }, { 0, 4, -4, -1, 1, 0 },
        { 0, -2, -1, 2, 1, 0 }, { 0, 2, -1, -2, 1, 0 }, { 0, 4, 0, -5, 0, 1 },
    };
    private static readonly double[,] AT4 = { { 1, 1, 1, 1, 1, 0 }, { 0, 1, -1, 2, -2, 0 }, { 0, 1, 1, 4, 4, 0 }, { 0, 1, -1, 8, -8, 1 } };

    /// <summary>G, (m + 2) × 3: the filter transform.</summary>
    public static double[,] Filter(int tile) => tile == 2 ? G2 : G4;

    /// <summary>Bᵀ, (m + 2) × (m + 2): the input transform.</summary>
    public static double[,] Input(int tile) => tile == 2 ? BT2 : BT4;

    /// <summary>Aᵀ, m × (m + 2): the output transform.</summary>
    public static double[,] Output(int tile) => tile == 2 ? AT2 : AT4;

    /// <summary>
    /// <c>G g Gᵀ</c> for each 3×3 filter of <c>[n, k, 3, 3]</c>, in double, each output's filter first multiplied by a
    /// folded BatchNorm's scale: (m + 2)² values per (output, input), position <c>i·(m + 2) + j</c>.
    /// </summary>
    public static double[] TransformFilters(float[] g, int n, int k, float[]? scale, int tile)
    {
        double[,] G = Filter(tile);
        int t = tile + 2, positions = t * t;
        var result = new double[(long)n * k * positions];
        var gg = new double[t, 3];
        for (int o = 0; o < n; o++)
        for (int c = 0; c < k; c++)
        {
            long at = ((long)o * k + c) * 9;
            double s = scale?[o] ?? 1.0;
            for (int i = 0; i < t; i++)
            for (int j = 0; j < 3; j++)
            {
                double sum = 0;
                for (int u = 0; u < 3; u++) sum += G[i, u] * g[at + u * 3 + j] * s;
                gg[i, j] = sum;
            }
            for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++)
            {
                double sum = 0;
                for (int u = 0; u < 3; u++) sum += gg[i, u] * G[j, u];
                result[((long)o * k + c) * positions + i * t + j] = sum;
            }
        }
        return result;
    }
}
