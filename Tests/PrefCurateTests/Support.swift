import Foundation
import XCTest
@_exported import TestSupport
import PrefCore
@testable import PrefCurate
@testable import PrefFormats
@testable import PrefIO

/// Builds a normalized pair line.
func pairLine(id: String, prompt: String, chosen: String, rejected: String, sc: Double? = nil, sr: Double? = nil, source: String? = nil) -> String {
    var p = Pair(prompt: [Message(.user, prompt)], chosen: [Message(.assistant, chosen)], rejected: [Message(.assistant, rejected)],
                 scoreChosen: sc, scoreRejected: sr)
    p.id = id
    p.source = source ?? "trl:test.jsonl:\(id)"
    var b = ByteBuffer()
    p.write(to: &b)
    return String(decoding: b.bytes, as: UTF8.self)
}

func writeLines(_ lines: [String], name: String = "in.jsonl") -> String {
    let d = Paths.tempDir()
    let p = d + "/" + name
    try! lines.joined().write(toFile: p, atomically: true, encoding: .utf8)
    return p
}

func source(_ paths: [String], threads: Int = 2) throws -> PairSource {
    try PairSource(try InputExpander.expand(paths), threads: threads)
}

/// Runs the second pass into memory: outputs' ids per output index, removed reasons by id.
struct Outcome {
    var kept: [[String]]
    var removed: [String: String]
    var tally: Tally
}

func apply(_ src: PairSource, outputs: Int = 1, _ decide: (Int) -> Decision) throws -> Outcome {
    try applyRaw(src, outputs: outputs) { i, _ in decide(i) }
}

func applyRaw(_ src: PairSource, outputs: Int = 1, _ decide: (Int, UnsafeRawBufferPointer) -> Decision) throws -> Outcome {
    let d = Paths.tempDir()
    let sinks = try (0..<outputs).map { try RecordSink(.file(d + "/out\($0).jsonl")) }
    let removedFile = try EncodedFile(path: d + "/removed.jsonl", compression: .none, level: 0)
    let w = CurationWriter()
    try w.write(src, stage: "test", decide: decide, outputs: sinks, removed: removedFile, rejects: nil)
    for s in sinks { try s.commit() }
    try removedFile.commit()
    XCTAssertTrue(w.total.balanced, "read = written + removed + rejected")
    func ids(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }
    let kept = try (0..<outputs).map { try ids(d + "/out\($0).jsonl").map { $0["id"] as! String } }
    var removed: [String: String] = [:]
    for r in try ids(d + "/removed.jsonl") {
        // The removed-record schema: reason and stage first, the pair itself under "record".
        XCTAssertEqual(r["stage"] as? String, "test")
        removed[(r["record"] as! [String: Any])["id"] as! String] = r["removed_reason"] as? String
    }
    return Outcome(kept: kept, removed: removed, tally: w.total)
}

