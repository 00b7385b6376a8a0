import Foundation
@testable import PrefIO
import TestSupport
import XCTest

/// The Parquet reader against files pyarrow wrote (scripts/make_parquet_fixtures.py): every row,
/// read as JSON, equals pyarrow's own `to_pylist` of the same file.
final class ParquetTests: XCTestCase {
    static let files = ["trl_snappy", "trl_zstd_v2", "trl_gzip_plain", "trl_none_crc", "trl_delta", "nectar",
                        "scalars", "scalars_v2_plain", "scalars_delta", "strings_delta_length", "empty"]

    func rows(_ path: String) throws -> [NSDictionary] {
        let (src, comp) = try Sources.open(path)
        XCTAssertEqual(comp, .parquet)
        let bytes = try Sources.readAll(src)
        return try bytes.split(separator: 0x0A).map { try JSONSerialization.jsonObject(with: Data($0)) as! NSDictionary }
    }

    func expected(_ name: String) throws -> [NSDictionary] {
        let text = try String(contentsOfFile: Paths.fixture("parquet/\(name).expected.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSDictionary }
    }

    func testEverySettingReadsLikePyarrow() throws {
        for name in Self.files {
            let got: [NSDictionary]
            do { got = try rows(Paths.fixture("parquet/\(name).parquet")) } catch { XCTFail("\(name): \(error)"); continue }
            let want = try expected(name)
            XCTAssertEqual(got.count, want.count, name)
            for (k, (g, w)) in zip(got, want).enumerated() where g != w {
                XCTFail("\(name) row \(k + 1):\n got  \(g)\n want \(w)")
                break
            }
        }
    }

    /// The direct assembly of flat shapes gives exactly the bytes of the general assembly, and is
    /// taken for the TRL and Nectar files (so both paths are tested on the same data).
    func testFlatAssemblyEqualsTheGeneralOne() throws {
        var flatFiles: [String] = []
        for name in Self.files {
            let path = Paths.fixture("parquet/\(name).parquet")
            let fast = try ParquetSource(path: path)
            if fast.flat != nil { flatFiles.append(name) }
            let general = try ParquetSource(path: path)
            general.flat = nil
            XCTAssertEqual(try Sources.readAll(fast), try Sources.readAll(general), name)
        }
        XCTAssertTrue(Set(["trl_snappy", "trl_zstd_v2", "trl_gzip_plain", "trl_none_crc", "trl_delta", "nectar"]).isSubset(of: Set(flatFiles)), "\(flatFiles)")
        XCTAssertFalse(flatFiles.contains("scalars"), "a struct holding a list, and a map, take the general path")
    }

    func testColumnOrderAndNullsAsWritten() throws {
        let first = try Sources.readAll(try Sources.open(Paths.fixture("parquet/scalars.parquet")).0)
        let line = String(decoding: first.prefix { $0 != 0x0A }, as: UTF8.self)
        XCTAssertTrue(line.hasPrefix("{\"i8\": null, \"i32\": "), line)
        XCTAssertTrue(line.contains("\"nested\": null"), line)
    }

    /// A copy of a fixture with `edit` applied.
    func damaged(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> String {
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("parquet/\(name).parquet"))))
        edit(&b)
        let p = Paths.tempDir() + "/\(name).parquet"
        try Data(b).write(to: URL(fileURLWithPath: p))
        return p
    }

    func readError(_ path: String) -> StreamError? {
        do { _ = try Sources.readAll(try Sources.open(path).0); return nil } catch { return error as? StreamError }
    }

    func testCorruptFilesAreErrorsNotCrashes() throws {
        // Truncated: no footer.
        let cut = try damaged("trl_snappy") { $0.removeLast(100) }
        XCTAssertEqual(readError(cut)?.kind, .truncated)
        // A footer length that does not fit.
        let badLen = try damaged("trl_snappy") { b in b[b.count - 8] = 0xFF; b[b.count - 7] = 0xFF; b[b.count - 6] = 0xFF }
        XCTAssertEqual(readError(badLen)?.kind, .corrupt)
        // Garbage in the footer.
        let garbage = try damaged("nectar") { b in
            let len = Int(b[b.count - 8]) | Int(b[b.count - 7]) << 8
            for k in (b.count - 8 - len)..<(b.count - 8) { b[k] = UInt8(truncatingIfNeeded: k &* 131) }
        }
        XCTAssertNotNil(readError(garbage))
        // A flipped byte inside a page whose CRC was written.
        let flipped = try damaged("trl_none_crc") { b in b[2000] ^= 0x40 }
        let e = readError(flipped)
        XCTAssertEqual(e?.kind, .corrupt)
        XCTAssertTrue(e?.message.contains("row group") ?? false, "\(String(describing: e))")
        // Every byte of a small file flipped in turn: an error or a result, never a crash.
        let base = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("parquet/strings_delta_length.parquet"))))
        let p = Paths.tempDir() + "/fuzz.parquet"
        for k in stride(from: 4, to: base.count - 4, by: max(1, base.count / 400)) {
            var b = base
            b[k] ^= 0xA5
            try Data(b).write(to: URL(fileURLWithPath: p))
            _ = readError(p)
        }
    }

    func testAStreamIsRefusedWithAReason() throws {
        // Parquet's footer is at its end: a stream (stdin) cannot be read, and says why.
        XCTAssertThrowsError(try Sources.decoding(MemorySource([0x50, 0x41, 0x52, 0x31, 0, 0, 0, 0]))) { e in
            XCTAssertEqual((e as? StreamError)?.kind, .unsupported)
            XCTAssertTrue("\(e)".contains("stdin"), "\(e)")
        }
    }
}
