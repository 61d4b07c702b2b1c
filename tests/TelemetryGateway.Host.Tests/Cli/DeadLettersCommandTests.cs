using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Host.Tests.Cli;

/// <summary>The <c>dead-letters</c> verb: what it shows (never topic or payload), and a replay back into the outbox.</summary>
public sealed class DeadLettersCommandTests
{
    [Fact]
    public async Task List_shows_reason_stream_purpose_and_size_but_not_the_topic()
    {
        using var directory = new TempDirectory();
        await DeadLetterAsync(directory.Path);
        var output = new StringWriter();

        Assert.Equal(0, DeadLettersCommand.Run(["list", "--data-dir", directory.Path], output, new StringWriter()));

        var text = output.ToString();
        Assert.Contains("not-authorized\tfirmware\tsafety-recall\t3 bytes\treplayable", text, StringComparison.Ordinal);
        Assert.Contains("1 dead letters", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SERIALCANARY0001", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_all_moves_the_dead_letters_back_into_the_outbox()
    {
        using var directory = new TempDirectory();
        await DeadLetterAsync(directory.Path);
        var output = new StringWriter();

        Assert.Equal(0, DeadLettersCommand.Run(["replay", "--all", "--data-dir", directory.Path], output, new StringWriter()));

        Assert.Contains("1 dead letters moved back into the outbox", output.ToString(), StringComparison.Ordinal);
        Assert.Empty(DeadLetterArchive.List(directory.Path));
        await using var outbox = SqliteOutbox.Open(directory.Path, new OutboxOptions(), NullLogger.Instance);
        Assert.Equal("t/SERIALCANARY0001", Assert.Single(outbox.ReadAfter(0, 10)).Message.Topic);
    }

    [Fact]
    public void Replay_needs_either_an_id_or_all()
    {
        Assert.Equal(2, DeadLettersCommand.Run(["replay"], new StringWriter(), new StringWriter()));
    }

    [Fact]
    public void A_data_directory_without_an_outbox_is_reported_and_exits_1()
    {
        using var directory = new TempDirectory();
        var error = new StringWriter();

        Assert.Equal(1, DeadLettersCommand.Run(["list", "--data-dir", directory.Path], new StringWriter(), error));
        Assert.Contains("No outbox", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task DeadLetterAsync(string dataDirectory)
    {
        await using var outbox = SqliteOutbox.Open(dataDirectory, new OutboxOptions(), NullLogger.Instance);
        var message = new UpstreamMessage("t/SERIALCANARY0001", [1, 2, 3], "application/json", "safety-recall", "legitimate-interest", "device", "x@1", "P10Y", 0, "firmware");
        await outbox.DeadLetterAsync([new DeadLetter(null, message, "not-authorized")], CancellationToken.None);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
