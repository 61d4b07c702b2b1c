using TelemetryGateway.Core.Solix;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>The message map: look-ups by product code and type, and what a field's name says it carries.</summary>
public sealed class SolixMessageMapTests
{
    [Theory]
    [InlineData("device_sn", "Serial")]
    [InlineData("exp_1_controller_sn?", "Serial")]
    [InlineData("unknown_sn_d0", "Serial")]
    [InlineData("wifi_name", "WifiName")]
    [InlineData("wifi_ssid", "WifiName")]
    [InlineData("wifi_password", "Secret")]
    [InlineData("0w_switch_bt_mac", "Mac")]
    [InlineData("mac_address", "Mac")]
    [InlineData("ip_address", "IpAddress")]
    [InlineData("gps_latitude", "Location")]
    [InlineData("wifi_signal", "Plain")]
    [InlineData("wipe_up_mode", "Plain")]
    [InlineData("battery_soc", "Plain")]
    public void Field_name_decides_what_the_field_carries(string name, string kind)
    {
        Assert.Equal(Enum.Parse<SolixFieldKind>(kind), SolixMessageMap.KindOf([name]));
    }

    [Fact]
    public void Layout_is_found_by_product_code_and_message_type()
    {
        var layout = SolixMessageMap.Find("A17C0"u8, 0x0407);

        Assert.NotNull(layout);
        Assert.Equal(SolixFieldKind.Serial, layout.Fields[0xA2]!.Kind);
        Assert.Equal(SolixFieldKind.WifiName, layout.Fields[0xA3]!.Kind);
        Assert.Null(layout.Fields[0xA1]);
        Assert.Null(SolixMessageMap.Find("A17C0"u8, 0x0999));
        Assert.Null(SolixMessageMap.Find("NOPE"u8, 0x0407));
    }

    [Fact]
    public void Field_of_an_unknown_model_is_as_sensitive_as_on_any_model()
    {
        Assert.Equal(SolixFieldKind.WifiName, SolixMessageMap.KindOnAnyModel(0x0407, 0xA3));
        Assert.Equal(SolixFieldKind.Mac, SolixMessageMap.KindOnAnyModel(0x0405, 0xC1));
    }
}
