// prefkit-bench: the benchmarks behind docs/benchmarks.md and docs/scoring.md, apart from the
// user commands of `prefkit`.
import ArgumentParser

@main
struct PrefkitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefkit-bench",
        abstract: "prefkit's benchmarks: training throughput, tokenizer speed, the score's validity.",
        subcommands: [BenchTrain.self, BenchTokenizer.self, BenchValidity.self]
    )
}
