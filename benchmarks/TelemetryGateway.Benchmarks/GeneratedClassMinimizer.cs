using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// The baseline for the protobuf rewriter: what one would write with the generated classes. Per purpose, parse the
/// payload into a message, clear and transform its fields as deploy/policies/protobuf-devices.json says, serialize.
/// Written by hand for the status, firmware and network streams that the benchmark measures.
/// </summary>
internal sealed class GeneratedClassMinimizer(byte[] secret, string keyId)
{
    public List<(string Purpose, byte[] Payload)> Minimize(string kind, byte[] payload) => kind switch
    {
        "status" =>
        [
            ("after-sales-service", StatusAfterSales(DeviceStatus.Parser.ParseFrom(payload)).ToByteArray()),
            ("product-improvement", StatusProductImprovement(DeviceStatus.Parser.ParseFrom(payload)).ToByteArray()),
        ],
        "firmware" =>
        [
            ("after-sales-service", FirmwareFull(FirmwareReport.Parser.ParseFrom(payload), pseudonymize: false).ToByteArray()),
            ("product-improvement", FirmwareFull(FirmwareReport.Parser.ParseFrom(payload), pseudonymize: true).ToByteArray()),
            ("safety-recall", FirmwareRecall(FirmwareReport.Parser.ParseFrom(payload)).ToByteArray()),
        ],
        "network" => [("diagnostics", NetworkDiagnostics(NetworkInfo.Parser.ParseFrom(payload)).ToByteArray())],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static DeviceStatus StatusAfterSales(DeviceStatus status)
    {
        if (status.Location is { } location)
        {
            location.Latitude = Round(location.Latitude, 1);
            location.Longitude = Round(location.Longitude, 1);
            location.AccuracyM = 0;
            location.Position = location.Position.Length == 0 ? "" : CoarsenPair(location.Position, 1) ?? "";
        }
        if (status.Network is { } network)
        {
            network.WifiName = "";
            network.Mac = "";
            network.Ip = TruncateIp(network.Ip) ?? "";
        }
        return status;
    }

    private DeviceStatus StatusProductImprovement(DeviceStatus status)
    {
        status.Sn = Pseudonym(status.Sn);
        status.Location = null;
        if (status.Network is { } network)
        {
            status.Network = new DeviceNetwork { WifiSignal = network.WifiSignal };
        }
        return status;
    }

    private FirmwareReport FirmwareFull(FirmwareReport firmware, bool pseudonymize)
    {
        if (pseudonymize)
        {
            firmware.Sn = Pseudonym(firmware.Sn);
        }
        return firmware;
    }

    private static FirmwareReport FirmwareRecall(FirmwareReport firmware)
    {
        firmware.OtaVersion = "";
        firmware.Upgrade = null;
        return firmware;
    }

    private NetworkInfo NetworkDiagnostics(NetworkInfo network)
    {
        network.Sn = Pseudonym(network.Sn);
        if (network.Wifi is { } wifi)
        {
            network.Wifi = new WifiInfo { Rssi = wifi.Rssi, Security = wifi.Security };
        }
        network.Ip = TruncateIp(network.Ip) ?? "";
        network.GatewayIp = TruncateIp(network.GatewayIp) ?? "";
        if (network.Geo is { } geo)
        {
            network.Geo = new GeoInfo { Country = geo.Country, Region = geo.Region };
        }
        return network;
    }

    private string Pseudonym(string text)
    {
        var digest = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(text));
        return keyId + "." + Convert.ToHexStringLower(digest, 0, 16);
    }

    private static string? TruncateIp(string text)
    {
        if (!IPAddress.TryParse(text, out var address))
        {
            return null;
        }
        var prefixLength = address.AddressFamily == AddressFamily.InterNetwork ? 24 : 48;
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var kept = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - kept));
        }
        return new IPAddress(bytes).ToString();
    }

    private static string? CoarsenPair(string text, int decimals)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2
            || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var latitude)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var longitude))
        {
            return null;
        }
        var format = "F" + decimals.ToString(CultureInfo.InvariantCulture);
        return Round(latitude, decimals).ToString(format, CultureInfo.InvariantCulture) + ","
            + Round(longitude, decimals).ToString(format, CultureInfo.InvariantCulture);
    }

    private static double Round(double value, int decimals)
    {
        var rounded = Math.Round(value, decimals, MidpointRounding.AwayFromZero);
        return rounded == 0 ? 0 : rounded;
    }
}
