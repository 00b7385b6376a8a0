import Foundation
@testable import PrefIO
import TestSupport
import XCTest

/// Parquet output: what prefkit writes, prefkit's reader (and, in the CLI tests, pyarrow and
/// `datasets`) reads back field for field, for every codec and with many row groups.
final class ParquetWriterTests: XCTestCase {
    /// Normalized pair lines with what the columns must carry: unicode, empty and long content,
    /// multi-message sides, missing and present scores, meta, tools and images.
    func pairLines(_ n: Int) -> [String] {
        var g = SeededGenerator(seed: 5)
        return (0..<n).map { i in
            let words = ["naïve", "日本語", "emoji 🎉", "quote \"x\"", "back\\slash", "tab\t", "line\nbreak", "", String(repeating: "long ", count: 300)]
            func text() -> String { (0..<Int.random(in: 0...4, using: &g)).map { _ in words.randomElement(using: &g)! }.joined(separator: " ") }
            let prompt = (0..<Int.random(in: 1...3, using: &g)).map { k in #"{"role": "\#(k % 2 == 0 ? "user" : "assistant")", "content": \#(json(text()))}"# }
            var line = #"{"id": "\#(String(i, radix: 16))", "source": "trl:x.jsonl:\#(i + 1)", "prompt": [\#(prompt.joined(separator: ", "))], "chosen": [{"role": "assistant", "content": \#(json(text()))}], "rejected": [{"role": "assistant", "content": \#(json(text()))}, {"role": "user", "content": "more"}]"#
            if i % 3 == 0 { line += #", "score_chosen": \#(Double(i) / 4), "score_rejected": -1.5"# }
            if i % 5 == 0 { line += #", "tools": [{"type": "function", "function": {"name": "f\#(i)"}}]"# }
            if i % 7 == 0 { line += #", "images": [{"path": "p\#(i).png", "bytes": null}]"# }
            if i % 2 == 0 { line += #", "meta": {"k": \#(i), "nested": {"a": [1, 2.5, "z"]}}"# }
            return line + "}"
        }
    }

    func json(_ s: String) -> String { String(decoding: try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes]).dropFirst().dropLast(), as: UTF8.self) }

    func testEveryCodecAndManyRowGroupsReadBack() throws {
        let lines = pairLines(101)
        let dir = Paths.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for codec in ParquetCodec.allCases {
            let path = dir + "/out-\(codec.rawValue).parquet"
            let w = try ParquetPairWriter(path: path, codec: codec, rowGroupRows: 7)
            for l in lines { try Array(l.utf8).withUnsafeBytes { try w.add($0) } }
            try w.commit()
            XCTAssertEqual(w.totalRows, 101)
            let meta = try ParquetFileCheck.rowGroups(path)
            XCTAssertEqual(meta, 15, "101 rows in row groups of 7")
            let (src, comp) = try Sources.open(path)
            XCTAssertEqual(comp, .parquet)
            let back = try Sources.readAll(src).split(separator: 0x0A).map { try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
            XCTAssertEqual(back.count, lines.count)
            for (b, l) in zip(back, lines) {
                let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
                for k in ["id", "source", "prompt", "chosen", "rejected"] { XCTAssertEqual(b[k] as? NSObject, o[k] as? NSObject, "\(codec) \(k)") }
                for k in ["score_chosen", "score_rejected"] { XCTAssertEqual(b[k] as? Double, o[k] as? Double, "\(codec) \(k)") }
                for k in ["tools", "images", "meta"] {
                    // JSON columns are strings holding the value.
                    let want = o[k] as? NSObject
                    let got = (b[k] as? String).map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSObject }
                    XCTAssertEqual(got, want, "\(codec) \(k)")
                }
            }
        }
    }

    func testEmptyFileIsValid() throws {
        let dir = Paths.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try ParquetPairWriter(path: dir + "/e.parquet")
        try w.commit()
        let (src, _) = try Sources.open(dir + "/e.parquet")
        XCTAssertEqual(try Sources.readAll(src).count, 0)
    }
}

/// The number of row groups in a Parquet file's footer (read with prefkit's footer parser).
enum ParquetFileCheck {
    static func rowGroups(_ path: String) throws -> Int {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(UInt32(bytes[bytes.count - 8]) | UInt32(bytes[bytes.count - 7]) << 8 | UInt32(bytes[bytes.count - 6]) << 16 | UInt32(bytes[bytes.count - 5]) << 24)
        let footer = Array(bytes[(bytes.count - 8 - n)..<(bytes.count - 8)])
        return try footer.withUnsafeBytes { try FileMeta.parse($0) }.rowGroups.count
    }
}
