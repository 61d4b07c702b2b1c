using System.Security.Cryptography;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>Uniform random 64-bit words for the noise; production reads the operating system's CSPRNG.</summary>
public interface INoiseSource
{
    ulong NextUInt64();
}

/// <summary>The production noise source: <see cref="RandomNumberGenerator"/>, never a seeded generator.</summary>
public sealed class CryptographicNoiseSource : INoiseSource
{
    public static CryptographicNoiseSource Instance { get; } = new();

    public ulong NextUInt64()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}

/// <summary>
/// Integer-valued Laplace noise (the two-sided geometric distribution): P(X = x) ∝ exp(-|x| / scale) on the integers.
/// Released values are integers (counts, or sums in whole multiples of a metric's resolution) plus an integer, so the
/// low-order bits of a floating-point noise sample cannot reveal the true value (the attack on textbook floating-point
/// Laplace samplers, Mironov 2012). Each side is drawn as a geometric variable by inversion: floor(ln U / ln q) with
/// q = exp(-1/scale) and U uniform on (0, 1] from 53 random bits; the result is always an integer and the sampler
/// takes a fixed number of steps. The probabilities are those of the geometric distribution up to the rounding of the
/// logarithms (relative error about 1e-16), which moves probability between neighbouring integers and never reveals
/// low-order bits. Adding X to a query of L1 sensitivity Δ with scale Δ/ε is ε-differentially private.
/// </summary>
public static class DiscreteLaplace
{
    /// <summary>Draws one sample of scale <paramref name="scale"/> (&gt; 0).</summary>
    public static long Sample(INoiseSource source, double scale)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scale);
        return Geometric(source, scale) - Geometric(source, scale);
    }

    /// <summary>P(X = x) for the noise of <paramref name="scale"/>: (1 - q) / (1 + q) · q^|x|, q = exp(-1/scale).</summary>
    public static double Probability(long x, double scale)
    {
        var q = Math.Exp(-1 / scale);
        return (1 - q) / (1 + q) * Math.Pow(q, Math.Abs(x));
    }

    /// <summary>P(X ≤ x), for goodness-of-fit tests.</summary>
    public static double Cumulative(long x, double scale)
    {
        var q = Math.Exp(-1 / scale);
        return x < 0 ? Math.Pow(q, -x) / (1 + q) : 1 - (Math.Pow(q, x + 1) / (1 + q));
    }

    private static long Geometric(INoiseSource source, double scale)
    {
        // U in (0, 1]: 53 random bits, plus one so that zero never occurs.
        var u = ((source.NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53));
        var value = Math.Floor(Math.Log(u) * -scale);
        // Bounded: u ≥ 2^-53 gives value ≤ 36.8 · scale; the cast cannot overflow for the scales the policy allows.
        return (long)value;
    }
}
