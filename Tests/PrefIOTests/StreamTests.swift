import Foundation
import XCTest
@testable import PrefIO

final class StreamTests: XCTestCase {
    func decoded(_ path: String) throws -> ([UInt8], Compression) {
        let (src, c) = try Sources.open(path)
        return (try Sources.readAll(src), c)
    }

    func testCompressionIsDetectedByMagicBytesNotName() throws {
        let plain = try decoded(Paths.fixture("hh_small.jsonl"))
        XCTAssertEqual(plain.1, .none)
        let gz = try decoded(Paths.fixture("hh_small.jsonl.gz"))           // two gzip members
        XCTAssertEqual(gz.1, .gzip); XCTAssertEqual(gz.0, plain.0)
        let zst = try decoded(Paths.fixture("hh_small.jsonl.zst"))         // two frames + skippable, one without size
        XCTAssertEqual(zst.1, .zstd); XCTAssertEqual(zst.0, plain.0)
        let named = try decoded(Paths.fixture("hh_small_named.jsonl.zst")) // plain bytes named .zst
        XCTAssertEqual(named.1, .none); XCTAssertEqual(named.0, plain.0)
        let gzNamed = try decoded(Paths.fixture("hh_small_named.jsonl"))   // gzip bytes named .jsonl
        XCTAssertEqual(gzNamed.1, .gzip); XCTAssertEqual(gzNamed.0, plain.0)
    }

    func testRealShards() throws {
        let zst = try decoded(try Paths.realdata("dolma_formats_test.jsonl.zst"))
        XCTAssertEqual(zst.1, .zstd)
        XCTAssertEqual(String(decoding: zst.0, as: UTF8.self), #"{"message": "this is a test"}"#)
        let plainNamed = try decoded(try Paths.realdata("dolma_plain_named_CC-MAIN-00140.jsonl.zst"))
        XCTAssertEqual(plainNamed.1, .none)
        let gz = try decoded(try Paths.realdata("dolma_formats_gz_CC-MAIN-00140.jsonl.gz"))
        XCTAssertEqual(gz.1, .gzip)
        // Both real shards hold 697 JSON lines (compare sizes, not contents: never print megabytes).
        XCTAssertEqual(gz.0.filter { $0 == 0x0A }.count, 697)
        XCTAssertEqual(plainNamed.0.filter { $0 == 0x0A }.count, 697)
        let gzSystem = try shell("zcat '\(try Paths.realdata("dolma_formats_gz_CC-MAIN-00140.jsonl.gz"))' | wc -c")
        if let n = gzSystem { XCTAssertEqual(Int(n.trimmingCharacters(in: .whitespacesAndNewlines)), gz.0.count) }
    }

    func testTruncatedStreamsKeepCompleteRecordsAndReportTheDamage() throws {
        let all = readRecords(RecordReader(try Sources.open(Paths.fixture("hh_small.jsonl")).0)).records
        for name in ["hh_truncated.jsonl.gz", "hh_truncated.jsonl.zst"] {
            let r = readRecords(RecordReader(try Sources.open(Paths.fixture(name)).0))
            XCTAssertGreaterThan(r.records.count, 10, name)
            XCTAssertLessThan(r.records.count, all.count, name)
            XCTAssertEqual(r.records, Array(all[..<r.records.count]), "complete records before the damage are intact (\(name))")
            XCTAssertEqual(r.failures.count, 1)
            XCTAssertEqual(r.failures.first?.reason, "truncated_input")
            XCTAssertTrue(r.failures.first!.message.contains("file byte"), r.failures.first!.message)
        }
    }

    func testCorruptGzipIsReportedNotCrashed() throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("hh_small.jsonl.gz"))))
        for i in 40..<60 { bytes[i] ^= 0x5A }
        let r = readRecords(RecordReader(try Sources.decoding(MemorySource(bytes)).0))
        XCTAssertEqual(r.failures.count, 1)
        XCTAssertEqual(r.failures.first?.reason, "corrupt_input")
    }

    func testLinesCRLFBlankLinesBOMAndNoFinalNewline() throws {
        let text: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}".utf8)
        for chunk in [3, 5, 1 << 20] {
            let r = readRecords(RecordReader(MemorySource(text), chunk: chunk))
            XCTAssertEqual(r.records.map { String(decoding: $0, as: UTF8.self) }, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"], "chunk \(chunk)")
            XCTAssertEqual(r.lines, [1, 4, 5])
            XCTAssertTrue(r.failures.isEmpty)
        }
    }

    func testJSONArrayElementsStreamAcrossChunkBoundaries() throws {
        let text = Array("\n [ {\"a\": \"x]}\\\"\"},\n {\"b\": [1,2]} , 7, \"s\" ]\n".utf8)
        for chunk in [2, 7, 1 << 20] {
            let reader = RecordReader(MemorySource(text), chunk: chunk)
            let r = readRecords(reader)
            XCTAssertEqual(reader.mode, .array)
            XCTAssertEqual(r.records.map { String(decoding: $0, as: UTF8.self) }, ["{\"a\": \"x]}\\\"\"}", "{\"b\": [1,2]}", "7", "\"s\""], "chunk \(chunk)")
            XCTAssertEqual(r.lines, [2, 3, 3, 3])
            XCTAssertTrue(r.failures.isEmpty)
        }
    }

    func testBrokenArrayReportsTheRest() throws {
        let r = readRecords(RecordReader(try Sources.open(Paths.fixture("broken_array.json")).0))
        XCTAssertEqual(r.records.count, 1)
        XCTAssertEqual(r.failures.map(\.reason), ["malformed_json"])
    }

    func testOversizeLineIsSkippedNotBuffered() throws {
        let text = Array(("{\"a\":1}\n" + String(repeating: "x", count: 5000) + "\n{\"b\":2}\n").utf8)
        let r = readRecords(RecordReader(MemorySource(text), maxRecordBytes: 1000, chunk: 256))
        XCTAssertEqual(r.records.map { String(decoding: $0, as: UTF8.self) }, ["{\"a\":1}", "{\"b\":2}"])
        XCTAssertEqual(r.failures.map(\.reason), ["record_too_large"])
        XCTAssertEqual(r.failures.first?.line, 2)
        XCTAssertEqual(r.lines, [1, 3])
    }
}
