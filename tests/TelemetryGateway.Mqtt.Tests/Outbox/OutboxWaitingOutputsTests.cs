using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Outbox;

/// <summary>The data subject's rights over outputs still waiting in the outbox: removed when refused, all erased.</summary>
public sealed class OutboxWaitingOutputsTests : IDisposable
{
    private const string Device = "SERIALCANARY0001";
    private const string Other = "SERIALCANARY0002";
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-waiting-").FullName;

    [Fact]
    public async Task Outputs_the_new_choices_refuse_are_removed_and_the_rest_wait()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync(
            [
                Message(Device, "personalization", "consent"), Message(Device, "after-sales-service", "contract"),
                Message(Device, "product-improvement", "legitimate-interest"), Message(Other, "personalization", "consent"),
            ],
            CancellationToken.None);
        var maintained = 0;
        var waiting = new OutboxWaitingOutputs(_directory, async token =>
        {
            maintained++;
            await outbox.MaintainAsync(token);
        });

        // Consent withdrawn for personalization (nothing granted), objection to product improvement.
        var choices = DeviceChoices.None.Apply(new ChoiceRequest(Device, ChoiceAction.Objection, PurposeSet.Empty.With(Purpose.ProductImprovement), false, "v", "t", ChoiceSource.Cli));
        var removed = await waiting.RemoveRefusedAsync(Device, choices, CancellationToken.None);

        Assert.Equal(2, removed);
        Assert.Equal(1, maintained);
        Assert.Equal(1, waiting.CountWaiting(Device));
        Assert.Equal(2, outbox.Count);
        Assert.Equal(
            [(Device, "after-sales-service"), (Other, "personalization")],
            outbox.ReadAfter(0, 10).Select(s => (s.Message.Device, s.Message.Purpose)));
    }

    [Fact]
    public async Task An_erasure_removes_the_device_s_outputs_and_dead_letters()
    {
        await using (var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance))
        {
            await outbox.AppendAsync([Message(Device, "after-sales-service", "contract"), Message(Other, "after-sales-service", "contract")], CancellationToken.None);
            await outbox.DeadLetterAsync([new DeadLetter(null, Message(Device, "product-improvement", "legitimate-interest"), "rejected")], CancellationToken.None);
        }
        var waiting = new OutboxWaitingOutputs(_directory);

        var (outputs, deadLetters) = await waiting.EraseAsync(Device, CancellationToken.None);

        Assert.Equal((1, 1), (outputs, deadLetters));
        Assert.Equal(0, waiting.CountWaiting(Device));
        Assert.Equal(1, waiting.CountWaiting(Other));
        Assert.Empty(DeadLetterArchive.List(_directory));
    }

    [Fact]
    public async Task Without_an_outbox_there_is_nothing_to_remove()
    {
        var waiting = new OutboxWaitingOutputs(_directory);

        Assert.Equal(0, await waiting.RemoveRefusedAsync(Device, DeviceChoices.None, CancellationToken.None));
        Assert.Equal((0, 0), await waiting.EraseAsync(Device, CancellationToken.None));
        Assert.Equal(0, waiting.CountWaiting(Device));
    }

    private static UpstreamMessage Message(string device, string purpose, string basis) =>
        new($"t/{purpose}", [1, 2, 3], "application/json", purpose, basis, "device", "x@1", "P1D", 0, "status", device);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
