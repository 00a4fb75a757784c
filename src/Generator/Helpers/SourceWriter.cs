using System.Text;

namespace ModelCompiler.Generator.Helpers;

/// <summary>An indented text writer for generated source (after dotnet/runtime's SourceWriter): text, not syntax trees.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public void Indent() => _indent++;

    public void Unindent() => _indent--;

    public void Line() => _sb.Append('\n');

    /// <summary>
    /// One line. Names from weights and ONNX files reach comments and docs: a line break in one (C# also breaks lines
    /// at U+0085, U+2028 and U+2029) would end a comment and let the rest of the name be compiled as code, so every
    /// control or line-breaking character becomes a space. String literals escape theirs (<see cref="Literal"/>).
    /// </summary>
    public void Line(string text)
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4);
        foreach (char c in text) _sb.Append(IsUnsafe(c) ? ' ' : c);
        _sb.Append('\n');
    }

    private static bool IsUnsafe(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    /// <summary>A C# string literal of any text: quotes, backslashes, control and line-breaking characters escaped.</summary>
    public static string Literal(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else if (IsUnsafe(c)) sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Text inside an XML doc comment: <c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c> escaped (names may hold them).</summary>
    public static string Xml(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    public void Open(string text)
    {
        Line(text);
        Line("{");
        _indent++;
    }

    public void Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
    }

    public override string ToString() => _sb.ToString();
}
