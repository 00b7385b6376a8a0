import ArgumentParser
import Foundation
import PrefCore
import PrefFormats
import PrefIO

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write normalized pairs in the layout a trainer reads (TRL, OpenAI, LLaMA-Factory, axolotl, KTO).",
        discussion: """
        trl: prompt/chosen/rejected message lists (tools, images, scores kept). JSON Lines, or Parquet (-o x.parquet) for \
        every target but openai (Parquet messages hold role and content text only). \
        openai: input.messages, preferred_output, non_preferred_output. llamafactory: ShareGPT ranking rows, with \
        the dataset_info.json entry written beside the output. axolotl: messages plus chosen/rejected message objects, \
        and the config lines printed. kto: two unpaired rows per pair (prompt, completion, label), only with \
        --unpair chosen-desirable. Pairs a target cannot express (several reply messages where one is allowed, \
        images) are removed and counted by reason; `convert` reads every export but kto back to the same pairs.
        """
    )

    @Argument(help: "Normalized pair files (prefkit convert output).") var inputs: [String]
    @Option(name: .long, help: "Target layout.") var to: ExportTarget
    @Option(name: [.short, .long], help: "Output file (.jsonl, .jsonl.zst, .jsonl.gz; .parquet for every target but openai).") var output: String
    @Option(name: .long, help: "KTO: how a pair becomes unpaired rows (required for --to kto).") var unpair: UnpairRule?
    @Option(name: .long, help: "LLaMA-Factory: the dataset's name in dataset_info.json (default: the output file's name).") var name: String?
    @Option(name: .long, help: "Where malformed input lines go (default: beside the output, NAME.rejects.jsonl).") var rejects: String?
    @Option(name: .long, help: "Write the machine-readable run summary to this JSON file.") var summaryJson: String?
    @Flag(name: [.short, .long], help: "No summary on stderr.") var quiet = false

    func validate() throws {
        if to == .kto && unpair == nil {
            throw ValidationError("--to kto needs an explicit rule: --unpair chosen-desirable (chosen replies are desirable, rejected ones undesirable)")
        }
        if to != .kto && unpair != nil { throw ValidationError("--unpair goes with --to kto") }
        if output.hasSuffix(".parquet") && to.parquetLayout == nil { throw ValidationError("--to \(to.rawValue) is JSON Lines only (the trainer reads no Parquet)") }
        if output == "-" && to == .llamafactory { throw ValidationError("--to llamafactory writes dataset_info.json beside the output: give -o FILE") }
    }

    func run() throws {
        let started = Date()
        let expanded: [InputFile]
        do { expanded = try InputExpander.expand(inputs) } catch { throw ValidationError("\(error)") }
        let parquet = output.hasSuffix(".parquet")
        // LLaMA-Factory's registry beside the output: merged, and published with the data.
        let registry = to == .llamafactory ? OutputPath.directory(of: output) + "/dataset_info.json" : nil
        do {
            try InputRegistry.checkOutputs([("-o", output), ("--rejects", rejects), ("--summary-json", summaryJson), ("dataset_info.json", registry)])
        } catch { throw ValidationError("\(error)") }
        let files = RunOutputs()
        let sink = try files.add(RecordSink(.file(output), parquet: parquet ? .zstd : nil, layout: to.parquetLayout ?? ParquetLayout.pairs))
        let rejectsOut = files.add(LazyOutput(rejects ?? ConvertRun.defaultRejects(output: output, sharded: false), level: 3))
        let reports: [InputReport]
        var rows = 0, rowsWithSystem = 0
        do {
            reports = try Exporter.run(inputs: expanded, target: to, unpair: unpair, write: { rowBytes, pairLine in
                // Parquet for trl takes the normalized pair itself (its columns are TRL's); the others their rows.
                let bytes = parquet && to == .trl ? Array(pairLine) + [0x0A] : rowBytes
                if registry != nil {
                    // A ShareGPT row's only unescaped `"system":` is its top-level system key.
                    rows += 1
                    if rowBytes.firstRange(of: Array("\"system\":".utf8)) != nil { rowsWithSystem += 1 }
                }
                // One end per row (a KTO pair gives two).
                try sink.write(bytes, ends: bytes.indices.filter { bytes[$0] == 0x0A }.map { $0 + 1 })
            }, reject: { try rejectsOut.write($0.json()) })
            try files.prepare()
        } catch { files.abort(); throw error }
        var outputs = sink.files
        var total = Tally()
        for r in reports { total.add(r.tally) }
        var notes: [String] = []
        if let registry {
            let file = OutputPath.name(of: output)
            let entryName = name ?? file.split(separator: ".").first.map(String.init) ?? file
            let info = Exporter.llamaFactoryInfo(name: entryName, fileName: file, tools: false, system: rows > 0 && rowsWithSystem == rows)
            do {
                var existing: [UInt8]? = nil
                var st = stat()
                if stat(registry, &st) == 0 {
                    // Read within a budget: a registry is a small hand-kept file.
                    guard (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= 64 << 20 else {
                        throw OutputError("\(registry) is not a regular file of at most 64 MB; refusing to replace it", usage: true)
                    }
                    existing = Array(try Data(contentsOf: URL(fileURLWithPath: registry)))
                }
                let (merged, replaced) = try Exporter.mergeLlamaFactoryRegistry(existing: existing, path: registry, entry: info)
                if existing != nil { notes.append(replaced ? "dataset_info.json: entry '\(entryName)' replaced, every other entry kept" : "dataset_info.json: entry '\(entryName)' added") }
                try files.addWhole(Array((merged.pretty() + "\n").utf8), to: registry)
            } catch { files.abort(); throw ValidationError("\(error)") }
            outputs.append(registry)
        }
        if to == .axolotl && !quiet {
            FileHandle.standardError.write(("axolotl config:\n" + Exporter.axolotlSnippet(path: output) + "\n").data(using: .utf8)!)
        }
        let summary = RunSummary(command: "export", total: total, inputs: reports, outputs: outputs, rejectsPath: rejectsOut.written,
                                 seconds: Date().timeIntervalSince(started), extra: [("to", .string(to.rawValue)), ("rows", .int(Int64(total.pairs)))])
        do {
            if let p = summaryJson { try files.addWhole(Array((summary.json().serialized() + "\n").utf8), to: p) }
            try files.publish()
        } catch { files.abort(); throw error }
        if !quiet {
            summary.printScreen()
            for n in notes { FileHandle.standardError.write("  \(n)\n".data(using: .utf8)!) }
        }
        if total.rejectedTotal > 0 { throw ExitCode(1) }
    }
}
