// Compiled into both the runtime and the generator: the layout int8 weights are packed in at build time is
// the layout QuantizedLinear reads at run time.
namespace ModelCompiler.Kernels;

/// <summary>
/// Int8 weights <c>q[n, k]</c> in panels of 16 outputs; within a panel, K in groups of four: for each group,
/// output 0's four codes, then output 1's, … (64 bytes). This is the operand order of every int8 dot-product
/// instruction in use: x86 VNNI (<c>vpdpbusd</c>), Arm SDOT, and <c>pmaddwd</c> after widening to int16.
/// K is padded to a multiple of four and the last panel to 16 outputs, with zeros.
/// </summary>
internal static class QuantizedPanelLayout
{
    public const int PanelWidth = 16;
    public const int Group = 4;

    public static int PaddedK(int k) => (k + Group - 1) / Group * Group;

    /// <summary>Rows the int8 kernel quantizes and multiplies together.</summary>
    public const int TileRows = 8;

    /// <summary>Scratch bytes the int8 kernel needs for <paramref name="k"/> input features: a tile of quantized rows, as int16 at most.</summary>
    public static int ScratchBytes(int k) => TileRows * PaddedK(k) * 2;

    public static int PanelCount(int n) => (n + PanelWidth - 1) / PanelWidth;

    /// <summary>Bytes of the packed weights.</summary>
    public static int PackedBytes(int n, int k) => PanelCount(n) * PanelWidth * PaddedK(k);

    public static void Pack(sbyte[] codes, int n, int k, sbyte[] destination, int offset)
    {
        int k4 = PaddedK(k);
        for (int p = 0; p < PanelCount(n); p++)
        {
            for (int g = 0; g < k4 / Group; g++)
            {
                for (int j = 0; j < PanelWidth; j++)
                {
                    for (int e = 0; e < Group; e++)
                    {
                        int output = p * PanelWidth + j, input = g * Group + e;
                        destination[offset + ((p * (k4 / Group) + g) * PanelWidth + j) * Group + e] =
                            output < n && input < k ? codes[output * k + input] : (sbyte)0;
                    }
                }
            }
        }
    }

    /// <summary>Σₖ q[j, k] per output (padded to whole panels): the correction for the unsigned-activation VNNI form.</summary>
    public static int[] ColumnSums(sbyte[] codes, int n, int k)
    {
        var sums = new int[PanelCount(n) * PanelWidth];
        for (int j = 0; j < n; j++)
        {
            int s = 0;
            for (int i = 0; i < k; i++) s += codes[j * k + i];
            sums[j] = s;
        }
        return sums;
    }
}
