import Foundation
import XCTest
@testable import PrefIO

final class OutputTests: XCTestCase {
    func testTempFilesArePrivateUnpredictableAndKeepTheReplacedMode() throws {
        let dir = Paths.tempDir()
        let path = dir + "/out.jsonl"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o640)
        let a = try AtomicFile(path: path), b = try AtomicFile(path: path)
        XCTAssertNotEqual(a.tempPath, b.tempPath)
        XCTAssertTrue(a.tempPath.hasPrefix(path + ".tmp.") && a.tempPath.count == path.count + 5 + 16, a.tempPath)
        var st = stat()
        XCTAssertEqual(lstat(a.tempPath, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "private while written")
        b.abort()
        try a.commit()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o640, "the replaced file's mode")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.jsonl"])
    }

    func testAnInputReplacedDuringTheRunIsNotRead() throws {
        let dir = Paths.tempDir()
        let path = dir + "/in.jsonl"
        try "{\"a\": 1}\n".write(toFile: path, atomically: false, encoding: .utf8)
        InputRegistry.register(path)
        XCTAssertNoThrow(try FileSource(path: path))
        // Another file renamed over the name: a later open (conversion after detection) refuses it.
        try "{\"b\": 2}\n".write(toFile: dir + "/other.jsonl", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(dir + "/other.jsonl", path), 0)
        XCTAssertThrowsError(try FileSource(path: path)) { e in XCTAssertTrue("\(e)".contains("was replaced"), "\(e)") }
    }

    func testAtomicFileAppearsOnlyOnCommit() throws {
        let dir = Paths.tempDir()
        let path = dir + "/out.jsonl"
        let f = try EncodedFile(path: path, compression: .none, level: 0)
        try f.write(Array("hello\n".utf8))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try f.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "hello\n")
        let g = try EncodedFile(path: dir + "/aborted.jsonl", compression: .none, level: 0)
        try g.write(Array("x\n".utf8))
        g.abort()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.jsonl"], "no temp file is left behind")
    }

    func testCompressedOutputsRoundTripAndAreDeterministic() throws {
        let dir = Paths.tempDir()
        let payload = (0..<20000).flatMap { Array("{\"n\": \($0)}\n".utf8) }
        for (name, comp) in [("a.jsonl.zst", OutputCompression.zstd), ("a.jsonl.gz", .gzip)] {
            var outputs: [[UInt8]] = []
            for run in 0..<2 {
                let p = dir + "/\(run)-" + name
                XCTAssertEqual(OutputCompression.forPath(p), comp)
                let f = try EncodedFile(path: p, compression: comp, level: 3)
                for chunk in stride(from: 0, to: payload.count, by: 7777) {
                    try f.write(Array(payload[chunk..<min(chunk + 7777, payload.count)]))
                }
                try f.commit()
                outputs.append(Array(try Data(contentsOf: URL(fileURLWithPath: p))))
                let (src, detected) = try Sources.open(p)
                XCTAssertEqual(detected, comp == .zstd ? .zstd : .gzip)
                XCTAssertEqual(try Sources.readAll(src), payload)
            }
            XCTAssertEqual(outputs[0], outputs[1], "same input gives byte-identical \(comp) output")
            XCTAssertLessThan(outputs[0].count, payload.count / 3)
        }
    }

    func testShardsSplitByRecordCountAndPublishTogether() throws {
        let dir = Paths.tempDir() + "/shards"
        let sink = try RecordSink(.shards(dir: dir, size: 3))
        var bytes: [UInt8] = [], ends: [Int] = []
        for i in 0..<8 { bytes += Array("{\"i\": \(i)}\n".utf8); ends.append(bytes.count) }
        try sink.write(bytes, ends: ends)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("part-") && !$0.contains(".tmp.") }, [],
                       "nothing is published before commit")
        try sink.commit()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, ["part-00000.jsonl.zst", "part-00001.jsonl.zst", "part-00002.jsonl.zst"])
        var all: [UInt8] = []
        for f in files { all += try Sources.readAll(dir + "/" + f) }
        XCTAssertEqual(all, bytes)
        XCTAssertThrowsError(try RecordSink(.shards(dir: dir, size: 3)), "existing shards are not silently mixed with new ones")
        XCTAssertNoThrow(try RecordSink(.shards(dir: dir, size: 3), overwriteShards: true))
    }

    func testInputExpansionSortsDirectoriesAndGlobs() throws {
        let dir = Paths.tempDir()
        for n in ["b.jsonl", "a.jsonl.zst", "notes.md", ".hidden.jsonl", "sub/c.json.gz"] {
            let p = dir + "/" + n
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data()))
        }
        let e = try InputExpander.expand([dir])
        let base = InputExpander.basename(dir)
        XCTAssertEqual(e.map(\.display), [base + "/a.jsonl.zst", base + "/b.jsonl", base + "/sub/c.json.gz"])
        let g = try InputExpander.expand([dir + "/*.jsonl*"])
        XCTAssertEqual(g.map(\.display), ["a.jsonl.zst", "b.jsonl"])
        XCTAssertThrowsError(try InputExpander.expand([dir + "/missing.jsonl"]))
    }
}
