import Foundation
import PrefCore
import PrefIO
import XCTest

final class ShardingTests: XCTestCase {
    func testResolveFromFlagsAndSchedulers() throws {
        XCTAssertNil(try ShardSpec.resolve(index: nil, count: nil, env: [:]))
        XCTAssertEqual(try ShardSpec.resolve(index: 2, count: 5, env: ["SLURM_ARRAY_TASK_ID": "9"])?.index, 2, "flags win over the environment")
        let slurm = try ShardSpec.resolve(index: nil, count: nil, env: ["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "4"])
        XCTAssertEqual(slurm?.index, 2); XCTAssertEqual(slurm?.count, 4); XCTAssertEqual(slurm?.origin, "SLURM_ARRAY_TASK_ID")
        XCTAssertEqual(try ShardSpec.resolve(index: nil, count: 3, env: ["JOB_COMPLETION_INDEX": "1"])?.index, 1)
        for bad: (Int?, Int?, [String: String]) in [(nil, nil, ["JOB_COMPLETION_INDEX": "1"]), (3, 3, [:]), (-1, 3, [:]), (0, nil, [:]), (nil, 2, [:]),
                                                    (nil, nil, ["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"]),
                                                    (nil, nil, ["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"]), (0, 0, [:])] {
            XCTAssertThrowsError(try ShardSpec.resolve(index: bad.0, count: bad.1, env: bad.2), "\(bad)")
        }
    }

    func testFilesGoToShardKModNInSortedOrder() {
        let files = ["d.jsonl", "a.jsonl", "c.jsonl", "b.jsonl", "e.jsonl"].map { InputFile(path: "/x/" + $0, display: $0) }
        let parts = (0..<2).map { try! ShardSpec(index: $0, count: 2).assign(files).map(\.display) }
        XCTAssertEqual(parts, [["a.jsonl", "c.jsonl", "e.jsonl"], ["b.jsonl", "d.jsonl"]])
        // Every file in exactly one shard, for any count.
        for n in 1...7 {
            let all = (0..<n).flatMap { try! ShardSpec(index: $0, count: n).assign(files).map(\.path) }
            XCTAssertEqual(all.sorted(), files.map(\.path).sorted())
        }
        XCTAssertEqual(ShardSpec(index: 3, count: 12).name("part", ext: ".jsonl.zst"), "part-00003-of-00012.jsonl.zst")
        let s = ShardSpec(index: 3, count: 12)
        XCTAssertEqual(s.perShard("out/removed.jsonl.zst"), "out/removed-00003-of-00012.jsonl.zst")
        XCTAssertEqual(s.perShard("a.b/summary"), "a.b/summary-00003-of-00012")
        XCTAssertEqual(s.perShard(".hidden.json"), ".hidden-00003-of-00012.json")
    }

    /// Byte ranges of one file: every line in exactly one part, parts starting at line starts,
    /// first line numbers right, whatever the line lengths (a part may be empty).
    func testByteRangesCutAtLineStarts() throws {
        let dir = NSTemporaryDirectory() + "prefkit-ranges-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = SystemRandomNumberGenerator()
        for (k, layout) in ["short", "long", "crlf-no-final-newline"].enumerated() {
            var text = ""
            for i in 0..<(layout == "long" ? 6 : 200) {
                let len = layout == "long" ? Int.random(in: 1...40_000, using: &g) : Int.random(in: 0...60, using: &g)
                text += "{\"i\": \(i), \"x\": \"" + String(repeating: "a", count: len) + "\"}" + (layout.hasPrefix("crlf") ? "\r\n" : "\n")
            }
            if layout.hasPrefix("crlf") { text.removeLast(2) }
            let path = dir + "/f\(k).jsonl"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let bytes = Array(text.utf8)
            for n in [1, 2, 3, 7, 16] {
                var next: Int64 = 0
                for i in 0..<n {
                    let r = try ByteRange.part(path, index: i, count: n)
                    XCTAssertEqual(r.start, next, "\(layout) \(i)/\(n): parts are contiguous")
                    XCTAssertTrue(r.start == 0 || bytes[Int(r.start) - 1] == 0x0A, "a part starts at a line start")
                    XCTAssertEqual(r.firstLine, bytes[0..<Int(r.start)].filter { $0 == 0x0A }.count + 1)
                    next = r.end
                }
                XCTAssertEqual(next, Int64(bytes.count), "\(layout): the parts cover the file")
            }
        }
    }
}
