using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>What the worker's AMQP consumer and the AMQP exchange upstream share of a connection's life.</summary>
internal static class AmqpSession
{
    /// <summary>
    /// Closes <paramref name="channel"/> and then <paramref name="connection"/> (either may be gone already: a node that
    /// died, a connection the broker closed) and disposes both.
    /// </summary>
    public static async Task CloseAsync(IChannel? channel, IConnection? connection)
    {
        try
        {
            if (channel is { IsOpen: true })
            {
                await channel.CloseAsync();
            }
            if (connection is { IsOpen: true })
            {
                await connection.CloseAsync();
            }
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // Already gone (for a consumer, whatever was not acknowledged is back in the queue).
        }
        if (channel is not null)
        {
            await channel.DisposeAsync();
        }
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }
}
