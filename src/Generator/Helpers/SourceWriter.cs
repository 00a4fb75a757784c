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

    /// <summary>
    /// One line of code, wrapped when it is longer than <see cref="Width"/>: broken after the opening bracket of its longest
    /// top-level bracket group (a call's arguments, a generic type's arguments), that group's items packed onto indented
    /// lines. Only code before a trailing <c>//</c> comment is looked at; a line with a string literal, or whose brackets
    /// do not balance (a comparison, a lambda), is written as it is.
    /// </summary>
    public void Wrapped(string code)
    {
        int open = -1, close = -1;
        if (code.Length > Width && code.IndexOf('"') < 0)
        {
            int depth = 0, start = -1, end = code.IndexOf("//", System.StringComparison.Ordinal);
            if (end < 0) end = code.Length;
            for (int i = 0; i < end && depth >= 0; i++)
            {
                char c = code[i];
                if (c is '(' or '<')
                {
                    if (depth++ == 0) start = i;
                }
                else if (c is ')' or '>' && --depth == 0 && i - start > close - open)
                {
                    open = start;
                    close = i;
                }
            }
            if (depth != 0) open = -1;
        }
        if (open < 0)
        {
            Line(code);
            return;
        }
        // Split the group at its commas outside nested brackets.
        var items = new System.Collections.Generic.List<string>();
        int nested = 0, from = open + 1;
        for (int i = from; i < close; i++)
        {
            char c = code[i];
            if (c is '(' or '<') nested++;
            else if (c is ')' or '>') nested--;
            else if (c == ',' && nested == 0)
            {
                items.Add(code.Substring(from, i - from).Trim());
                from = i + 1;
            }
        }
        items.Add(code.Substring(from, close - from).Trim());
        Line(code.Substring(0, open + 1));
        Indent();
        var line = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            string piece = items[i] + (i == items.Count - 1 ? code.Substring(close) : ",");
            if (line.Length > 0 && line.Length + 1 + piece.Length > Width - 8)
            {
                Line(line.ToString());
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(piece);
        }
        Line(line.ToString());
        Unindent();
    }

    /// <summary>The widest line <see cref="Wrapped"/> writes unbroken.</summary>
    public const int Width = 120;

    public void Open(string text)
    {
        Line(text);
        Line("{");
        _indent++;
    }

    /// <summary><see cref="Open"/> with the opening line <see cref="Wrapped"/> (a long signature).</summary>
    public void OpenWrapped(string code)
    {
        Wrapped(code);
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
