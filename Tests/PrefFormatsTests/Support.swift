import Foundation
import XCTest
@_exported import TestSupport
import PrefCore
@testable import PrefFormats
@testable import PrefIO


struct ConvertResult {
    var converter: Converter
    var pairs: [Pair]
    var bytes: [UInt8]
    var rejects: [RecordFailure]
    var removed: [UInt8]
}

/// Runs the converter on files and reads its output back.
func convert(_ paths: [String], format: String = "auto", options: FormatOptions = FormatOptions(),
             threads: Int = 2, batchBytes: Int = 1 << 20) throws -> ConvertResult {
    try convertWith(paths) { cfg in
        cfg.corpus = Corpora.named(format)
        cfg.options = options
        cfg.threads = threads
        cfg.batchBytes = batchBytes
    }
}

func convertWith(_ paths: [String], _ configure: (inout ConvertConfig) -> Void) throws -> ConvertResult {
    let inputs = try InputExpander.expand(paths)
    var cfg = ConvertConfig(inputs: inputs)
    configure(&cfg)
    let dir = Paths.tempDir()
    let out = dir + "/out.jsonl"
    let sink = try RecordSink(.file(out))
    let c = Converter(cfg)
    var rejects: [RecordFailure] = []
    var removed: [UInt8] = []
    c.onRejectWrite = { rejects.append($0) }
    c.onRemovedWrite = { removed += $0 }
    try c.run(sink: sink)
    try sink.commit()
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    try? FileManager.default.removeItem(atPath: dir)
    var pairs: [Pair] = []
    for line in bytes.split(separator: 0x0A) {
        try Array(line).withUnsafeBytes { raw in
            var sc = JSONScanner()
            pairs.append(try Pair.parse(try sc.parse(raw).root))
        }
    }
    XCTAssertTrue(c.total.balanced, "read = written + removed + rejected")
    XCTAssertEqual(pairs.count, c.total.pairs)
    return ConvertResult(converter: c, pairs: pairs, bytes: bytes, rejects: rejects, removed: removed)
}

func texts(_ ms: [Message]) -> [String] { ms.map { "\($0.role.name): \($0.text)" } }

/// Reads a JSON Lines (optionally gzip) file with Foundation, independently of prefkit's scanner.
func foundationRecords(_ path: String) throws -> [[String: Any]] {
    let bytes = try Sources.readAll(path)
    return try bytes.split(separator: 0x0A).map { try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
}
