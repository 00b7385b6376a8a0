import Foundation
import XCTest
@_exported import TestSupport
@testable import PrefIO


func readRecords(_ reader: RecordReader) -> (records: [[UInt8]], lines: [Int], failures: [RecordFailure]) {
    var recs: [[UInt8]] = [], lines: [Int] = [], fails: [RecordFailure] = []
    while let b = reader.nextBatch(targetBytes: 64) {
        for i in 0..<b.count { recs.append(b.withRecord(i) { Array($0) }); lines.append(b.lines[i]) }
        fails += b.failures
    }
    return (recs, lines, fails)
}

/// Runs a shell command and returns its stdout, or nil when it fails (used for optional cross-checks).
func shell(_ cmd: String) throws -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", cmd]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}
