import Foundation
import XCTest
import PrefCore
@testable import PrefFormats
@testable import PrefIO

/// Tool calls, tool turns, images and reasoning pass through conversion unchanged
/// (fixtures from scripts/make_tool_fixtures.py).
final class ToolsImagesTests: XCTestCase {
    func json(_ bytes: [UInt8]) throws -> [String: Any] { try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any] }

    func testTRLRecordsPassThroughLosslessly() throws {
        let path = Paths.fixture("tools/trl_tools_images.jsonl")
        let r = try convert([path])
        XCTAssertEqual(r.pairs.count, 5)
        XCTAssertEqual(r.converter.total.rejectedTotal, 0)
        let originals = try foundationRecords(path)
        let lines = r.bytes.split(separator: 0x0A).map { Array($0) }
        for (k, (line, o)) in zip(lines, originals).enumerated() {
            let out = try json(line)
            for key in ["prompt", "chosen", "rejected", "tools", "images"] {
                if k == 4 && key != "tools" && key != "images" { continue }
                XCTAssertEqual(out[key] as? NSObject, o[key] as? NSObject, "record \(k + 1), \(key)")
            }
        }
        // Text-only parts of a pair without images are flattened to strings, as before.
        XCTAssertEqual((try json(lines[4])["prompt"] as! [[String: Any]])[0]["content"] as? String, "Say hi.")
        // The normalized form reads back to the same bytes.
        for line in lines {
            let p = try line.withUnsafeBytes { raw -> Pair in var sc = JSONScanner(); return try Pair.parse(try sc.parse(raw).root) }
            var b = ByteBuffer(); p.write(to: &b)
            XCTAssertEqual(b.bytes, line + [0x0A])
        }
        // Plain text or not: tools, tool turns and images are not (score skips them).
        XCTAssertEqual(r.pairs.map(\.isPlainText), [false, false, false, true, true])
        XCTAssertEqual(r.pairs[1].prompt.last?.role, .tool)
        XCTAssertTrue(r.pairs[2].prompt[0].hasNonTextParts)
        XCTAssertEqual(r.pairs[2].prompt[0].text, "What animal is this?")
    }

    func testOpenAIToolsAndCalls() throws {
        let r = try convert([Paths.fixture("tools/openai_tools.jsonl")])
        XCTAssertEqual(r.pairs.count, 1)
        let out = try json(Array(r.bytes.split(separator: 0x0A)[0]))
        let o = try foundationRecords(Paths.fixture("tools/openai_tools.jsonl"))[0]
        XCTAssertEqual(out["tools"] as? NSObject, (o["input"] as! [String: Any])["tools"] as? NSObject)
        let call = (out["chosen"] as! [[String: Any]])[0]
        XCTAssertEqual(call["tool_calls"] as? NSObject, ((o["preferred_output"] as! [[String: Any]])[0])["tool_calls"] as? NSObject)
        // A null content beside tool calls becomes the empty string.
        XCTAssertEqual(call["content"] as? String, "")
    }

    func testUnknownRolesAreStillRejected() throws {
        let dir = Paths.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/x.jsonl"
        try #"{"prompt": [{"role": "narrator", "content": "x"}], "chosen": "a", "rejected": "b"}"#.write(toFile: p, atomically: true, encoding: .utf8)
        let r = try convert([p])
        XCTAssertEqual(r.converter.total.rejected, ["unsupported_role": 1])
    }
}
