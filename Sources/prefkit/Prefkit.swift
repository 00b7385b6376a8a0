import ArgumentParser

@main
struct Prefkit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefkit",
        abstract: "Convert, curate and score preference datasets (prompt / chosen / rejected) for DPO.",
        version: PrefkitVersion.string,
        subcommands: [Convert.self]
    )
}

enum PrefkitVersion {
    static let string = "0.1.0"
}
