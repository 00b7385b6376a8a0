import Foundation
@testable import PrefCore
import PrefIO
import XCTest

final class OrderedPipelineTests: XCTestCase {
    struct Boom: Error, Equatable { var at: Int }

    func testResultsComeBackInProductionOrderWhateverTheWorkTakes() throws {
        for threads in [1, 2, 7] {
            var seen: [Int] = []
            try OrderedPipeline.run(threads: threads, produce: { emit in
                for i in 0..<500 { try emit(i) }
            }, work: { i in
                // Uneven work so that later items often finish first.
                if i % 7 == 0 { usleep(200) }
                return i * i
            }, consume: { seen.append($0) })
            XCTAssertEqual(seen, (0..<500).map { $0 * $0 }, "threads \(threads)")
        }
    }

    func testAConsumerFailureStopsTheProducerAndReturns() throws {
        let produced = Counter()
        XCTAssertThrowsError(try OrderedPipeline.run(threads: 3, produce: { emit in
            for i in 0..<1_000_000 { try emit(i); produced.add() }
        }, work: { $0 }, consume: { i in
            if i == 10 { throw Boom(at: i) }
        })) { XCTAssertEqual($0 as? Boom, Boom(at: 10)) }
        // Bounded: the producer stopped near the point of failure, not at the end of its input.
        XCTAssertLessThan(produced.value, 1000)
    }

    func testAProducerFailureIsRethrownAfterWhatWasProducedIsConsumed() throws {
        var seen: [Int] = []
        XCTAssertThrowsError(try OrderedPipeline.run(threads: 2, produce: { emit in
            for i in 0..<20 { try emit(i) }
            throw Boom(at: 20)
        }, work: { $0 }, consume: { seen.append($0) })) { XCTAssertEqual($0 as? Boom, Boom(at: 20)) }
        XCTAssertEqual(seen, Array(0..<20))
    }

    func testUnopenableInputsBecomeOneFailureBatchAndOthersAreRead() throws {
        let dir = NSTemporaryDirectory() + "prefkit-core-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.jsonl"
        try "{\"a\": 1}\n{\"a\": 2}\n".write(toFile: good, atomically: true, encoding: .utf8)
        var batches: [(Int, Int, Int)] = []
        var infos: [InputInfo] = []
        try InputBatches(paths: [dir + "/missing.jsonl", good]).forEach({ idx, b in
            batches.append((idx, b.count, b.failures.count))
        }, finished: { _, info in infos.append(info) })
        XCTAssertEqual(batches.map(\.0), [0, 1])
        XCTAssertEqual(batches[0].2, 1, "the missing input is one failure")
        XCTAssertEqual(batches[1].1, 2)
        XCTAssertEqual(infos.map(\.opened), [false, true])
        XCTAssertEqual(infos[1].bytes, 18)
    }

    func testRemovedRecordSchema() throws {
        var b = ByteBuffer()
        let record = Array("{\"x\": [1, 2]}\r".utf8)
        record.withUnsafeBytes {
            RemovedRecord.append(to: &b, reason: "tie", stage: "convert", source: "arena:f.jsonl:3", message: "winner is 'tie'",
                                 details: [("k", .int(1))], record: $0)
        }
        RemovedRecord.append(to: &b, reason: "orphan_answer", stage: "convert", source: "stackexchange:Posts.xml:17", rows: 2)
        let lines = b.bytes.split(separator: 0x0A).map { try! JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0]["removed_reason"] as? String, "tie")
        XCTAssertEqual((lines[0]["record"] as? [String: Any])?["x"] as? [Int], [1, 2])
        XCTAssertEqual((lines[0]["details"] as? [String: Any])?["k"] as? Int, 1)
        XCTAssertEqual(lines[1]["rows"] as? Int, 2)
        XCTAssertNil(lines[1]["record"])
        XCTAssertTrue(String(decoding: b.bytes, as: UTF8.self).hasPrefix("{\"removed_reason\": \"tie\", \"stage\": \"convert\", \"source\""))
    }
}

final class Counter: @unchecked Sendable {
    private var n = 0
    private let lock = NSLock()
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

final class ProgressTests: XCTestCase {
    /// Bytes with a share, rate and ETA when the size is known; a count alone when it is not.
    func testLinesWithAndWithoutATotal() {
        let p = Progress()
        p.setLabel("prefkit filter")
        p.setMode(.lines)
        p.begin(total: 4_000_000)
        let known = p.line(done: 1_000_000, items: 500, elapsed: 2)
        XCTAssertEqual(known, "prefkit filter:  25%, 1.0 MB of 4.0 MB, 500 kB/s, ETA 0:06, 500 records, 250/s\n")
        p.begin(total: nil)
        XCTAssertEqual(p.line(done: 123, items: 1000, elapsed: 4), "prefkit filter (pass 2): 1000 records, 250/s\n")
        p.setMode(.terminal)
        p.begin(total: 100)
        let bar = p.line(done: 50, items: 10, elapsed: 1)
        XCTAssertTrue(bar.hasPrefix("\r\u{1B}[K") && bar.contains("50%") && bar.contains("ETA 0:01"), bar)
        XCTAssertEqual(bar.filter { $0 == "█" }.count, 12)
        XCTAssertEqual(Progress.duration(3725), "1:02:05")
    }
}
