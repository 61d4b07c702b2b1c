using Google.Protobuf.Reflection;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// The device-side protobuf schemas the gateway knows (proto/telemetry/v1), found by their full names as a policy
/// stream's <c>"message"</c> names them, e.g. <c>telemetry.v1.DeviceStatus</c>.
/// </summary>
internal static class ProtobufMessages
{
    private static readonly TypeRegistry s_registry = TypeRegistry.FromFiles(
        DeviceStatusReflection.Descriptor,
        FirmwareReportReflection.Descriptor,
        NetworkInfoReflection.Descriptor,
        LogBatchReflection.Descriptor);

    private static readonly string[] s_names =
    [
        DeviceStatus.Descriptor.FullName,
        FirmwareReport.Descriptor.FullName,
        NetworkInfo.Descriptor.FullName,
        LogBatch.Descriptor.FullName,
    ];

    /// <summary>The top-level device messages, for error messages that list what a policy may name.</summary>
    public static IReadOnlyList<string> DeviceMessageNames => s_names;

    /// <summary>The descriptor of the message type <paramref name="fullName"/>, or null when no known schema defines it.</summary>
    public static MessageDescriptor? Find(string fullName) => s_registry.Find(fullName);
}
