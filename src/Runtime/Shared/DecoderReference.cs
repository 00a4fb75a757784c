// Compiled into both the runtime (the eager reference) and the generator (which evaluates ops at build time): one
// definition of what the decoder ops compute. Plain loops, double accumulation, one rounding to float per output.
using System;

namespace ModelCompiler;

/// <summary>
/// Reference implementations of the decoder ops (RMS normalization, rotary position embeddings, causal grouped-query
/// attention), as Hugging Face's Llama writes them. In a decoder each sample is one token and the samples of a batch are
/// consecutive positions of one sequence, starting at <c>position</c>.
/// </summary>
internal static class DecoderReference
{
    /// <summary>The widest head rotary embeddings take (the kernel keeps a head's angles on the stack).</summary>
    public const int MaxRotaryHeadSize = 1024;

    /// <summary>
    /// <c>x / √(mean(x²) + ε) · weight</c> over rows of <paramref name="width"/> (Llama's <c>LlamaRMSNorm</c>, T5's
    /// layer norm).
    /// </summary>
    public static void RmsNorm(float[] x, float[] weight, float epsilon, float[] y, int width)
    {
        for (int start = 0; width > 0 && start + width <= x.Length; start += width)
        {
            double squares = 0;
            for (int j = 0; j < width; j++) squares += (double)x[start + j] * x[start + j];
            double inverse = 1 / Math.Sqrt(squares / width + epsilon);
            for (int j = 0; j < width; j++) y[start + j] = (float)(x[start + j] * inverse * weight[j]);
        }
    }

    /// <summary>
    /// The rotation angle's frequency for pair <paramref name="i"/> of a head of <paramref name="headSize"/>, rounded
    /// as PyTorch computes it in float32: <c>1 / θ^(2i / headSize)</c>.
    /// </summary>
    public static float InverseFrequency(int i, int headSize, float theta) =>
        1f / (float)Math.Pow(theta, (float)(2 * i) / headSize);

    /// <summary>
    /// Rotary position embeddings in the rotate-half layout (Hugging Face's <c>apply_rotary_pos_emb</c>): in each head of
    /// <paramref name="headSize"/> values, value <c>i</c> and value <c>i + headSize/2</c> are rotated by the angle
    /// <c>p · InverseFrequency(i)</c>, where <c>p</c> is the row's position (<paramref name="position"/> + row). Rows are
    /// <paramref name="width"/> long, a whole number of heads.
    /// </summary>
    public static void Rotary(float[] x, float[] y, int width, int headSize, float theta, int position)
    {
        int half = headSize / 2;
        for (int row = 0; width > 0 && (row + 1) * width <= x.Length; row++)
        for (int i = 0; i < half; i++)
        {
            float angle = (float)(position + row) * InverseFrequency(i, headSize, theta);
            double cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
            for (int head = row * width; head < (row + 1) * width; head += headSize)
            {
                double a = x[head + i], b = x[head + i + half];
                y[head + i] = (float)(a * cos - b * sin);
                y[head + i + half] = (float)(b * cos + a * sin);
            }
        }
    }

    /// <summary>
    /// Learned position embeddings (GPT-2's <c>wpe</c>): row <c>r</c> gets row <c>position + r</c> of
    /// <paramref name="table"/> (<c>[positions, width]</c>) added. Rows past the table's end are left unwritten; callers
    /// check the sequence fits first.
    /// </summary>
    public static void AddPositions(float[] x, float[] table, float[] y, int width, int position)
    {
        for (int row = 0; width > 0 && (row + 1) * width <= x.Length && (long)(position + row + 1) * width <= table.Length; row++)
        {
            for (int j = 0; j < width; j++) y[row * width + j] = x[row * width + j] + table[(position + row) * width + j];
        }
    }

    /// <summary>
    /// Causal grouped-query attention over one sequence: row <c>r</c>'s queries (<paramref name="heads"/> heads of
    /// <paramref name="headSize"/>) attend to the keys and values of rows <c>0…r</c> (<paramref name="kvHeads"/> heads
    /// each; query head <c>h</c> reads key head <c>h / (heads / kvHeads)</c>), <c>softmax(q·kᵀ/√e)·v</c>.
    /// </summary>
    public static void CausalAttention(float[] q, float[] k, float[] v, float[] y, int rows, int heads, int kvHeads, int headSize)
    {
        int qWidth = heads * headSize, kvWidth = kvHeads * headSize, group = heads / kvHeads;
        double scale = 1 / Math.Sqrt(headSize);
        var scores = new double[rows];
        for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++)
        {
            int kvHead = h / group;
            double max = double.NegativeInfinity;
            for (int j = 0; j <= r; j++)
            {
                double dot = 0;
                for (int c = 0; c < headSize; c++) dot += (double)q[r * qWidth + h * headSize + c] * k[j * kvWidth + kvHead * headSize + c];
                scores[j] = dot * scale;
                max = Math.Max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j <= r; j++) sum += scores[j] = Math.Exp(scores[j] - max);
            for (int c = 0; c < headSize; c++)
            {
                double value = 0;
                for (int j = 0; j <= r; j++) value += scores[j] * v[j * kvWidth + kvHead * headSize + c];
                y[r * qWidth + h * headSize + c] = (float)(value / sum);
            }
        }
    }
}
