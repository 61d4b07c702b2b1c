using System.Text;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Keys;

public sealed class PseudonymizationKeyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-key-").FullName;

    [Fact]
    public void Generates_a_key_once_with_owner_only_permissions_and_reuses_it()
    {
        var first = PseudonymizationKey.LoadOrCreate(_directory);
        var second = PseudonymizationKey.LoadOrCreate(_directory);
        var path = Path.Combine(_directory, PseudonymizationKey.GeneratedFileName);

        Assert.Equal(first.Id, second.Id);
        Assert.Equal(PseudonymizationKey.MinimumLength, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void Rejects_a_key_file_shorter_than_32_bytes_without_showing_its_content()
    {
        var path = Path.Combine(_directory, "short.key");
        File.WriteAllText(path, "tooshort-secret");
        var error = Assert.Throws<KeyMaterialException>(() => PseudonymizationKey.FromFile(path));
        Assert.DoesNotContain("tooshort-secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_id_and_pseudonyms_differ_between_keys_and_never_show_the_key()
    {
        var secret = Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef");
        var a = PseudonymizationKey.FromBytes(secret);
        var b = PseudonymizationKey.FromBytes(Encoding.ASCII.GetBytes("fedcba9876543210fedcba9876543210"));
        Assert.NotEqual(a.Id, b.Id);
        Assert.DoesNotContain("0123456789abcdef", a.ToString(), StringComparison.Ordinal);

        using var pa = new Pseudonymizer(a);
        using var pb = new Pseudonymizer(b);
        var bufferA = new byte[pa.Length];
        var bufferB = new byte[pb.Length];
        pa.Write("WK1DEGZD8PCF32ER"u8, bufferA);
        pb.Write("WK1DEGZD8PCF32ER"u8, bufferB);
        Assert.NotEqual(bufferA, bufferB);
        Assert.StartsWith(a.Id + ".", Encoding.ASCII.GetString(bufferA), StringComparison.Ordinal);
    }

    [Fact]
    public void Same_input_under_one_key_gives_the_same_pseudonym()
    {
        using var pseudonymizer = new Pseudonymizer(Support.TestPolicies.Key);
        var first = new byte[pseudonymizer.Length];
        var second = new byte[pseudonymizer.Length];
        pseudonymizer.Write("SN"u8, first);
        pseudonymizer.Write("SN"u8, second);
        Assert.Equal(first, second);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
