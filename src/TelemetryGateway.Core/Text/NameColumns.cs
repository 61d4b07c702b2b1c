using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The Wi-Fi name column of a table a network tool printed into a log: a header line names the column, and in each row
/// that follows the cell under it is a Wi-Fi name, with no marker before it. The tables of <c>wpa_cli scan_results</c>
/// and <c>list_networks</c> (a header of fields joined by " / ", rows of tab-separated cells), <c>nmcli device wifi
/// list</c> and <c>nmcli connection show</c> (columns aligned under upper-case headers, <c>SSID</c> or <c>NAME</c>) and
/// <c>iwctl station ... get-networks</c> / <c>known-networks list</c> (aligned under <c>Network name</c>), tables with
/// '|' between cells (Zephyr's <c>wifi scan</c>: <c>| SSID (len) |</c>), and the keys of a netplan / cloud-init
/// <c>access-points:</c> map, which are the Wi-Fi names.
/// </summary>
/// <remarks>
/// A table ends at an empty line or a row that does not fit the header (too few cells, or shorter than the column's
/// start); a line of dashes under the header is part of it. State is one table at a time, reset by <see cref="Clear"/>.
/// Nothing is allocated.
/// </remarks>
internal sealed class NameColumns
{
    private const int MaxHeaderLength = 512;

    private Layout _layout;

    // Tab-separated rows: the index of the name cell. Aligned rows: the byte offset where the name column starts.
    private int _column;

    // Netplan: the indentation of the access-points: line and of its keys (-1 until the first key is seen).
    private int _parentIndent;
    private int _keyIndent;

    private enum Layout
    {
        None,
        TabSeparated,
        Aligned,
        PipeSeparated,
        AccessPointKeys,
    }

    public bool InTable => _layout != Layout.None;

    public void Clear() => _layout = Layout.None;

    /// <summary>
    /// Whether <paramref name="lines"/> may hold a table header (a cheap vectorized look for its column names), so a
    /// block without one is scrubbed whole.
    /// </summary>
    public static bool MayHoldHeader(ReadOnlySpan<byte> lines) =>
        lines.IndexOf("SSID"u8) >= 0 || lines.IndexOf(" / ssid"u8) >= 0 || lines.IndexOf("NAME "u8) >= 0 || lines.IndexOf("Network name"u8) >= 0
        || lines.IndexOf("access-points:"u8) >= 0;

    /// <summary>Starts a table if <paramref name="line"/> (without its line break) is a header naming a Wi-Fi name column.</summary>
    public bool TryBegin(ReadOnlySpan<byte> line)
    {
        _layout = Layout.None;
        if (line.Length > MaxHeaderLength)
        {
            return false;
        }

        // netplan / cloud-init: "    access-points:" then one key per network.
        var trimmed = line.TrimEnd((byte)'\r').TrimEnd((byte)' ');
        if (trimmed.TrimStart((byte)' ').SequenceEqual("access-points:"u8))
        {
            _layout = Layout.AccessPointKeys;
            _parentIndent = trimmed.Length - trimmed.TrimStart((byte)' ').Length;
            _keyIndent = -1;
            return true;
        }

        // "Num  | SSID   (len) | Chan (Band) | ...": cells between '|'.
        if (line.IndexOf((byte)'|') >= 0)
        {
            var index = 0;
            foreach (var range in line.Split((byte)'|'))
            {
                var cell = line[range].Trim((byte)' ');
                if (cell.StartsWith("SSID"u8) || cell.StartsWith("ESSID"u8) || cell.StartsWith("Network name"u8))
                {
                    _layout = Layout.PipeSeparated;
                    _column = index;
                    return true;
                }

                index++;
            }

            return false;
        }

        // wpa_cli: "bssid / frequency / signal level / flags / ssid", "network id / ssid / bssid / flags"
        if (line.IndexOf(" / "u8) >= 0)
        {
            var index = 0;
            var rest = line;
            while (true)
            {
                var separator = rest.IndexOf(" / "u8);
                var field = (separator < 0 ? rest : rest[..separator]).Trim((byte)' ');
                if (IsWord(field, "ssid"u8))
                {
                    _layout = Layout.TabSeparated;
                    _column = index;
                    return true;
                }

                if (separator < 0)
                {
                    return false;
                }

                rest = rest[(separator + 3)..];
                index++;
            }
        }

        // Aligned: the header word at a column start (line start or after two blanks), followed by two blanks or the end.
        foreach (var name in (ReadOnlySpan<byte[]>)[SsidHeader, NameHeader, NetworkNameHeader])
        {
            var at = FindColumnStart(line, name);
            if (at >= 0 && HasAnotherColumn(line, at))
            {
                _layout = Layout.Aligned;
                _column = at;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The name cell of a table row (<paramref name="line"/> without its line break), or false when the row ends the
    /// table (the table is then over). A line of dashes is a row with no cell.
    /// </summary>
    public bool TryTakeCell(ReadOnlySpan<byte> line, out int start, out int end)
    {
        start = end = 0;
        if (line.Trim((byte)'\r').IsEmpty)
        {
            _layout = Layout.None;
            return false;
        }

        if (_layout == Layout.AccessPointKeys)
        {
            return TakeAccessPointKey(line, out start, out end);
        }

        if (line.Trim((byte)' ').IndexOfAnyExcept(RuleBytes) < 0)
        {
            return true;
        }

        if (_layout == Layout.PipeSeparated)
        {
            var index = 0;
            foreach (var range in line.Split((byte)'|'))
            {
                if (index++ != _column)
                {
                    continue;
                }

                var (offset, length) = range.GetOffsetAndLength(line.Length);
                var cell = line.Slice(offset, length);
                var lead = cell.Length - cell.TrimStart((byte)' ').Length;
                start = offset + lead;
                end = offset + cell.TrimEnd((byte)' ').Length;
                return true;
            }

            _layout = Layout.None;
            return false;
        }

        if (_layout == Layout.TabSeparated)
        {
            var cell = 0;
            var cellStart = 0;
            for (var i = 0; i <= line.Length; i++)
            {
                if (i < line.Length && line[i] != '\t')
                {
                    continue;
                }

                if (cell == _column)
                {
                    start = cellStart;
                    end = i;
                    return true;
                }

                cell++;
                cellStart = i + 1;
            }

            _layout = Layout.None;
            return false;
        }

        // Tools pad every column to its widest cell, so a row of the table has a blank before the column; a line that
        // does not (a configuration file printed next, a prompt) ends the table.
        if (line.Length <= _column || line[.._column].IndexOf((byte)'\t') >= 0 || (_column > 0 && line[_column - 1] != ' '))
        {
            _layout = Layout.None;
            return false;
        }

        // The cell starts at the column and ends at the next run of two blanks or a tab.
        start = _column;
        while (start < line.Length && line[start] == ' ')
        {
            start++;
        }

        end = start;
        while (end < line.Length && line[end] != '\t' && !(line[end] == ' ' && end + 1 < line.Length && line[end + 1] == ' ') && line[end] != '\r')
        {
            end++;
        }

        return true;
    }

    // A line of the access-points: map: at the keys' indentation, "name:" or "\"name\":" is a Wi-Fi name; deeper lines
    // are its settings (a password: there is a marker of its own); a line back at the parent's indentation ends the map.
    private bool TakeAccessPointKey(ReadOnlySpan<byte> line, out int start, out int end)
    {
        start = end = 0;
        var content = line.TrimEnd((byte)'\r').TrimEnd((byte)' ');
        var indent = content.Length - content.TrimStart((byte)' ').Length;
        if (content.Length == indent)
        {
            // An empty line inside the map.
            return true;
        }

        if (indent <= _parentIndent || (_keyIndent >= 0 && indent < _keyIndent))
        {
            _layout = Layout.None;
            return false;
        }

        if (_keyIndent < 0)
        {
            _keyIndent = indent;
        }

        if (indent == _keyIndent && content[^1] == ':')
        {
            start = indent;
            end = content.Length - 1;
        }

        return true;
    }

    // A rule under a header: "-----", "+----+----+", "|----|".
    private static ReadOnlySpan<byte> RuleBytes => "- +|="u8;

    private static byte[] SsidHeader { get; } = "SSID"u8.ToArray();

    private static byte[] NameHeader { get; } = "NAME"u8.ToArray();

    private static byte[] NetworkNameHeader { get; } = "Network name"u8.ToArray();

    private static int FindColumnStart(ReadOnlySpan<byte> line, ReadOnlySpan<byte> name)
    {
        var from = 0;
        while (from < line.Length)
        {
            var found = line[from..].IndexOf(name);
            if (found < 0)
            {
                return -1;
            }

            var at = from + found;
            var end = at + name.Length;
            var startsColumn = at == 0 || line[..at].Trim((byte)' ').IsEmpty || (at >= 2 && line[at - 1] == ' ' && line[at - 2] == ' ');
            var endsColumn = end == line.Length || (end + 1 < line.Length && line[end] == ' ' && line[end + 1] == ' ') || line[end] is (byte)'\r';
            if (startsColumn && endsColumn)
            {
                return at;
            }

            from = at + 1;
        }

        return -1;
    }

    // A table header has at least two columns: a run of two blanks followed by another upper-case or capitalized word.
    private static bool HasAnotherColumn(ReadOnlySpan<byte> line, int at)
    {
        for (var i = 0; i + 2 < line.Length; i++)
        {
            if (line[i] == ' ' && line[i + 1] == ' ')
            {
                var j = i;
                while (j < line.Length && line[j] == ' ')
                {
                    j++;
                }

                if (j < line.Length && j != at && IsUpper(line[j]))
                {
                    return true;
                }

                i = j;
            }
        }

        return false;
    }
}
