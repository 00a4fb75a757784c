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

    public void Line(string text)
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4);
        _sb.Append(text).Append('\n');
    }

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
