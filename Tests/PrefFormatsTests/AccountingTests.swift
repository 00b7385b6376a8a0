import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

final class AccountingTests: XCTestCase {
    func testBadLinesAreRejectedWithReasonsAndLinesAndGoodOnesKept() throws {
        let r = try convert([Paths.fixture("bad_trl.jsonl")])
        XCTAssertEqual(r.converter.total.read, 9, "the blank line is not a record")
        XCTAssertEqual(r.converter.total.written, 3)
        XCTAssertEqual(r.converter.total.rejected, ["malformed_json": 2, "invalid_utf8": 1, "missing_field": 1, "not_an_object": 1, "bad_type": 1])
        XCTAssertEqual(r.rejects.map(\.line), [2, 3, 4, 5, 7, 9])
        XCTAssertEqual(r.pairs.map(\.source), ["trl:bad_trl.jsonl:1", "trl:bad_trl.jsonl:8", "trl:bad_trl.jsonl:10"])
        // Offsets point at the start of the bad line in the file.
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("bad_trl.jsonl"))))
        for e in r.rejects {
            let lineStart = file.indices.filter { $0 == 0 || file[$0 - 1] == 0x0A }[e.line - 1]
            XCTAssertEqual(Int(e.offset), lineStart, "offset of line \(e.line)")
        }
        // Reject entries are valid JSON even for invalid UTF-8 input.
        for e in r.rejects { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(e.json()))) }
    }

    func testTruncatedInputsCountTheDamage() throws {
        for name in ["hh_truncated.jsonl.gz", "hh_truncated.jsonl.zst"] {
            let r = try convert([Paths.fixture(name)])
            XCTAssertGreaterThan(r.pairs.count, 10)
            XCTAssertEqual(r.converter.total.rejected, ["truncated_input": 1], name)
            XCTAssertEqual(r.converter.total.read, r.pairs.count + 1)
        }
    }

    func testUnreadableAndUnsupportedInputsAreAccounted() throws {
        let dir = Paths.tempDir()
        let xz = dir + "/x.jsonl.xz"
        XCTAssertTrue(FileManager.default.createFile(atPath: xz, contents: Data([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0, 0])))
        let r = try convert([xz, Paths.fixture("trl_standard_explicit.jsonl")])
        XCTAssertEqual(r.converter.total.rejected, ["unsupported_compression": 1])
        XCTAssertEqual(r.pairs.count, 2)
        XCTAssertTrue(r.rejects[0].message.contains("xz -dc"), r.rejects[0].message)
    }

    func testOutputIsDeterministicAcrossThreadsAndBatchSizes() throws {
        let files = [Paths.fixture("hh_small.jsonl.zst"), Paths.fixture("bad_trl.jsonl"), Paths.fixture("arena.jsonl")]
        let a = try convert(files, threads: 1)
        let b = try convert(files, threads: 2, batchBytes: 300)
        let c = try convert(files, threads: 4, batchBytes: 1000)
        XCTAssertEqual(a.bytes, b.bytes)
        XCTAssertEqual(a.bytes, c.bytes)
        XCTAssertEqual(a.rejects.map(\.line), c.rejects.map(\.line))
        XCTAssertGreaterThan(a.bytes.count, 10000)
    }

    func testSameNamesInDifferentDirectoriesGetDistinctSources() throws {
        let d = Paths.tempDir()
        for sub in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: d + "/" + sub, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Paths.fixture("trl_standard_explicit.jsonl"), toPath: d + "/\(sub)/train.jsonl")
        }
        let r = try convert([d + "/a/train.jsonl", d + "/b/train.jsonl"])
        XCTAssertEqual(Set(r.pairs.map(\.id)).count, 4)
    }

    func testCompressedAndPlainInputsGiveTheSamePairs() throws {
        let plain = try convert([Paths.fixture("hh_small.jsonl")])
        for name in ["hh_small.jsonl.gz", "hh_small.jsonl.zst", "hh_small_named.jsonl.zst"] {
            let other = try convert([Paths.fixture(name)])
            XCTAssertEqual(other.pairs.map { texts($0.prompt + $0.chosen + $0.rejected) }, plain.pairs.map { texts($0.prompt + $0.chosen + $0.rejected) }, name)
        }
    }
}
