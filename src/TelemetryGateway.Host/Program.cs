using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Hosting;

// The executable: CLI verbs for policy authors and auditors, or (without a verb) the gateway itself.
return args switch
{
    ["policy", ..] => PolicyCommand.Run(args[1..], Console.Out, Console.Error),
    ["users", ..] => UsersCommand.Run(args[1..], Console.Out, Console.Error),
    ["consent", ..] => ConsentCommand.Run(args[1..], Console.Out, Console.Error),
    ["dead-letters", ..] => DeadLettersCommand.Run(args[1..], Console.Out, Console.Error),
    ["tail", ..] => await TailCommand.RunAsync(args[1..], Console.Out, Console.Error),
    ["minimize", ..] => MinimizeCommand.Run(args[1..], Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.Error),
    ["--help" or "-h" or "help"] => Usage.Print(Console.Out),
    _ => await GatewayHost.RunAsync(args),
};
