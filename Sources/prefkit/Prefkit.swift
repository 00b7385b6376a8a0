import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Prefkit: ParsableCommand {
    static func main() {
        #if canImport(Glibc)
        // Batches are megabyte-sized and short-lived: keep them on the heap instead of fresh mmap
        // pages (which the kernel must zero on every batch).
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 256 << 20)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 512 << 20)
        #endif
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "prefkit",
        abstract: "Convert, curate and score preference datasets (prompt / chosen / rejected) for DPO.",
        version: PrefkitVersion.string,
        subcommands: [Convert.self, Filter.self, DedupCommand.self, Decontaminate.self, Split.self, StatsCommand.self, SFTCommand.self, LogpsCommand.self, ScoreCommand.self, BenchTrain.self, BenchTokenizer.self]
    )
}

enum PrefkitVersion {
    static let string = "0.1.0"
}

#if canImport(Glibc)
/// glibc's mallopt (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("mallopt")
func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
