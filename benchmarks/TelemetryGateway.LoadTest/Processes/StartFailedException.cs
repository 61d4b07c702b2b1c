namespace TelemetryGateway.LoadTest.Processes;

/// <summary>A child process (mosquitto, the gateway) or the path through it could not be brought up.</summary>
internal sealed class StartFailedException(string message) : Exception(message);
