import Foundation
import PrefCore
@testable import PrefFormats
import PrefIO
import XCTest

/// Parquet as an input of `convert`: detected by its bytes, every corpus unchanged, hub shards as a
/// directory, damage accounted for.
final class ParquetInputTests: XCTestCase {
    /// A pair's JSON without its id and source (which name the file).
    func strip(_ p: Pair) -> [UInt8] { var q = p; q.id = ""; q.source = ""; var b = ByteBuffer(); q.write(to: &b); return b.bytes }

    func testParquetConvertsToTheSamePairsAsItsJSONLines() throws {
        let json = try convert([Paths.fixture("parquet/trl.jsonl")])
        XCTAssertEqual(json.pairs.count, 300)
        for name in ["trl_snappy", "trl_zstd_v2", "trl_gzip_plain", "trl_none_crc", "trl_delta"] {
            let pq = try convert([Paths.fixture("parquet/\(name).parquet")])
            XCTAssertEqual(pq.converter.inputs[0].compression, "parquet", name)
            XCTAssertEqual(pq.converter.inputs[0].format, "trl", name)
            XCTAssertTrue(pq.converter.total.balanced, name)
            XCTAssertEqual(pq.pairs.map(strip), json.pairs.map(strip), name)
            XCTAssertEqual(pq.pairs.first?.source, "trl:\(name).parquet:1", "the record number is the row number")
        }
    }

    func testADirectoryOfHubShardsIsOneInputSetInOrder() throws {
        let dir = Paths.tempDir() + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (k, name) in ["trl_snappy", "trl_zstd_v2"].enumerated() {
            try FileManager.default.copyItem(atPath: Paths.fixture("parquet/\(name).parquet"), toPath: dir + "/train-0000\(k)-of-00002.parquet")
        }
        let r = try convert([dir])
        XCTAssertEqual(r.converter.inputs.map(\.path).map { ($0 as NSString).lastPathComponent }, ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"])
        XCTAssertEqual(r.pairs.count, 600)
        XCTAssertEqual(r.converter.total.read, 600)
    }

    func testDamageKeepsTheRowGroupsBeforeItAndCountsOneReject() throws {
        // trl_none_crc has row groups of 100 rows and page checksums: damage in the last group.
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("parquet/trl_none_crc.parquet"))))
        let len = Int(b[b.count - 8]) | Int(b[b.count - 7]) << 8 | Int(b[b.count - 6]) << 16
        b[b.count - 8 - len - 200] ^= 0x11
        let p = Paths.tempDir() + "/damaged.parquet"
        try Data(b).write(to: URL(fileURLWithPath: p))
        let r = try convert([p], format: "trl")
        XCTAssertTrue(r.converter.total.balanced)
        XCTAssertEqual(r.pairs.count % 100, 0, "whole row groups are kept")
        XCTAssertGreaterThanOrEqual(r.pairs.count, 200)
        XCTAssertEqual(r.rejects.count, 1)
        XCTAssertEqual(r.rejects.first?.reason, "corrupt_input")
        XCTAssertTrue(r.rejects.first?.message.contains("parquet") ?? false, "\(String(describing: r.rejects.first))")
        // A file cut short is one reject, with nothing written.
        let cut = Paths.tempDir() + "/cut.parquet"
        try Data(b.prefix(b.count / 2)).write(to: URL(fileURLWithPath: cut))
        let c = try convert([cut])
        XCTAssertEqual(c.pairs.count, 0)
        XCTAssertEqual(c.rejects.map(\.reason), ["truncated_input"])
        XCTAssertTrue(c.converter.total.balanced)
    }
}
