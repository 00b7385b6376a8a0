import ArgumentParser
import Foundation
import PrefCore
import PrefIO
import PrefPipeline

/// What a failed command tells its user: one sentence, a hint, and the exit status
/// (docs/cli.md: 0 ok, 1 records rejected, 2 usage, 3 I/O or other fatal error).
struct Diagnosis {
    var message: String
    var hint: String?
    var status: Int32

    static let commands = Prefkit.configuration.subcommands.map { $0._commandName }

    /// The command named on the command line ("prefkit dedup sign"), for errors found while parsing it.
    static func commandFromArguments() -> String {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let first = args.first, let sub = Prefkit.configuration.subcommands.first(where: { $0._commandName == first }) else { return "prefkit" }
        if let second = args.dropFirst().first, sub.configuration.subcommands.contains(where: { $0._commandName == second }) { return "prefkit \(first) \(second)" }
        return "prefkit \(first)"
    }

    init(_ error: Error, command name: String, parseCode: ExitCode) {
        let help = "see '\(name) --help'"
        switch error {
        case let e as ConfigError:
            self.init(message: e.description, hint: e.hint ?? "see 'prefkit pipeline --help' ('prefkit pipeline --init' writes a commented example)", status: Prefkit.Status.usage)
        case let e as StageFailure:
            self.init(message: e.description, hint: e.status == 2 ? "the stage's options are those of 'prefkit \(e.stage) --help'"
                      : "the stages that finished are kept: fix the cause and run the same command again to resume", status: Prefkit.Status.fatal)
        case let v as ValidationError:
            self.init(message: v.message, hint: Diagnosis.hint(for: v.message) ?? help, status: Prefkit.Status.usage)
        case let o as OutputError where o.isUsage:
            self.init(message: o.message, hint: Diagnosis.hint(for: o.message) ?? help, status: Prefkit.Status.usage)
        default:
            if parseCode == .validationFailure {
                // ArgumentParser's own message (unknown option, bad value, missing argument), as one line.
                var text = Prefkit.message(for: error)
                if text.hasPrefix("Error: ") { text.removeFirst(7) }
                let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                let items = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
                var message = String(lines.first ?? "")
                if !items.isEmpty { message = message.replacingOccurrences(of: "Please provide one of the following:", with: "valid values: ") + items.joined(separator: ", ") }
                var hint = help
                if message.hasPrefix("Unexpected argument"), name == "prefkit" { hint = "commands: \(Diagnosis.commands.joined(separator: ", ")) (see 'prefkit --help')" }
                self.init(message: message, hint: hint, status: Prefkit.Status.usage)
            } else {
                let text = "\(error)"
                self.init(message: text, hint: Diagnosis.hint(for: text), status: Prefkit.Status.fatal)
            }
        }
    }

    init(message: String, hint: String?, status: Int32) { self.message = message; self.hint = hint; self.status = status }

    /// Hints for the messages a person most often meets.
    static func hint(for message: String) -> String? {
        if message.hasPrefix("input not found") || message.contains("no such file") {
            return "check the path (relative to the current directory); directories and globs such as 'data/*.jsonl.zst' are expanded"
        }
        if message.contains("model directory") {
            return "a model directory is the reference/ or policy/ directory of a 'prefkit score' or 'prefkit sft' run, or a Hugging Face GPT-2 directory with config.json and model.safetensors (F32)"
        }
        if message.contains("Permission denied") { return "check that the file is readable and its directory writable" }
        if message.contains("No space left") { return "free disk space or write the outputs elsewhere" }
        return nil
    }

    var text: String { "error: \(printable(message, keepNewlines: true))\n" + (hint.map { "  hint: \(printable($0, keepNewlines: true))\n" } ?? "") }
}
