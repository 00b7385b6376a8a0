import ArgumentParser
import Foundation
import PrefCore
import PrefIO
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
        // Every command: a signal removes unpublished outputs and temp files (PrefIO.TempFiles).
        TempFiles.installSignalCleanup()
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            finish(error, command: nil)
        }
        let title = (type(of: command) as? Titled.Type)?.title ?? type(of: command)._commandName
        Progress.shared.setLabel("prefkit " + title)
        do {
            try command.run()
        } catch {
            finish(error, command: title)
        }
    }

    /// Exit codes (docs/cli.md): 0 ok, 1 records rejected (outputs written), 2 usage error,
    /// 3 I/O or other fatal error, or --strict stopped the run (nothing published).
    enum Status {
        static let rejected: Int32 = 1
        static let usage: Int32 = 2
        static let fatal: Int32 = 3
    }

    static func finish(_ error: Error, command: String?) -> Never {
        // Whatever was not published is removed: a failed run leaves no temp or partial output.
        TempFiles.removeAll()
        if let e = error as? ExitCode { Glibc.exit(e.rawValue) }
        let code = exitCode(for: error)
        if code == .success { exit(withError: error) }          // --help, --version
        let name = command.map { "prefkit \($0)" } ?? Diagnosis.commandFromArguments()
        let d = Diagnosis(error, command: name, parseCode: code)
        FileHandle.standardError.write("\(name): \(d.text)".data(using: .utf8)!)
        Glibc.exit(d.status)
    }

    static let configuration = CommandConfiguration(
        commandName: "prefkit",
        abstract: "Convert, curate and score preference datasets (prompt / chosen / rejected) for DPO.",
        version: PrefkitVersion.string,
        subcommands: [Convert.self, Export.self, Filter.self, DedupCommand.self, Decontaminate.self, Split.self, StatsCommand.self, SFTCommand.self, LogpsCommand.self, ScoreCommand.self, CompareCommand.self, PipelineCommand.self]
    )
}

/// A subcommand named in messages by its whole path ("dedup sign"), or by its parent's name when
/// it is the parent's default ("dedup").
protocol Titled { static var title: String { get } }

enum PrefkitVersion {
    static let string = "0.1.0"
}

#if canImport(Glibc)
/// glibc's mallopt (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("mallopt")
func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
