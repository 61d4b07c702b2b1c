namespace TelemetryGateway.Core.Policy;

/// <summary>One problem found while validating a policy file, at a JSON path such as <c>$.streams.status.purposes</c>.</summary>
public sealed record PolicyError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>The outcome of compiling a policy: the compiled policy, or every error found.</summary>
public sealed class PolicyCompilation
{
    internal PolicyCompilation(CompiledPolicy? policy, IReadOnlyList<PolicyError> errors)
    {
        Policy = policy;
        Errors = errors;
    }

    public CompiledPolicy? Policy { get; }
    public IReadOnlyList<PolicyError> Errors { get; }
    public bool Succeeded => Policy is not null;
}

/// <summary>A policy that failed validation; the message lists every error.</summary>
public sealed class PolicyValidationException(string source, IReadOnlyList<PolicyError> errors)
    : Exception($"Policy '{source}' is invalid ({errors.Count} error(s)):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors))
{
    public IReadOnlyList<PolicyError> Errors { get; } = errors;
}
