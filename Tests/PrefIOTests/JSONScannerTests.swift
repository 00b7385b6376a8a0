import Foundation
import XCTest
@testable import PrefIO

final class JSONScannerTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(s) }

    func testValuesOfEveryKind() throws {
        let v = try parse(#"{"s": "a\"b\\c\/d\n\t\u00e9\ud83d\ude00", "n": -12.5e2, "i": 42, "t": true, "f": false, "z": null, "a": [1, [2, {}], []], "o": {"k": "v"}}"#)
        XCTAssertEqual(v["s"], .string("a\"b\\c/d\n\té😀"))
        XCTAssertEqual(v["n"], .double(-1250))
        XCTAssertEqual(v["i"], .int(42))
        XCTAssertEqual(v["t"], .bool(true))
        XCTAssertEqual(v["f"], .bool(false))
        XCTAssertEqual(v["z"], .null)
        XCTAssertEqual(v["a"], .array([.int(1), .array([.int(2), .object([])]), .array([])]))
        XCTAssertEqual(v["o"], .object([("k", .string("v"))]))
    }

    func testLoneSurrogateBecomesReplacementCharacter() throws {
        XCTAssertEqual(try parse(#"["\ud800x"]"#), .array([.string("\u{FFFD}x")]))
    }

    func testMalformedInputIsRejectedWithAnOffset() {
        let bad: [(String, Int)] = [
            (#"{"a": 1"#, 0), (#"{"a" 1}"#, 5), (#"[1, 2,]"#, 6), (#"{"a": tru}"#, 6), (#"{"a": 01}"#, 7),
            (#"{"a": "x\q"}"#, 8), ("{\"a\": \"x\u{01}\"}", 8), (#"{"a": 1} x"#, 9), (#"{"a": -}"#, 7), (#"{"a": 1.}"#, 8), (#""#, 0),
        ]
        for (text, offset) in bad {
            XCTAssertThrowsError(try parse(text), text) { e in
                XCTAssertEqual((e as? JSONError)?.offset, offset, "offset for \(text): \(e)")
            }
        }
    }

    func testDeepNestingIsBounded() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        XCTAssertThrowsError(try parse(deep))
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertNoThrow(try parse(ok))
    }

    /// Random documents: our scanner and Foundation's JSONSerialization must agree.
    func testAgreesWithFoundationOnRandomDocuments() throws {
        var rng = SystemRandomNumberGenerator()
        func randomString() -> String {
            let alphabet = ["a", "Z", " ", "\"", "\\", "\n", "\t", "é", "中", "😀", "/", "\u{7f}", "\u{1}"]
            return (0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
        }
        func randomValue(_ depth: Int) -> Any {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &rng) {
            case 0: return randomString()
            case 1: return Int.random(in: -100000...100000, using: &rng)
            case 2: return Bool.random(using: &rng)
            case 3: return NSNull()
            case 4: return (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(depth + 1) }
            default:
                var d: [String: Any] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &rng) { d[randomString()] = randomValue(depth + 1) }
                return d
            }
        }
        func same(_ a: Any, _ b: JSONValue) -> Bool {
            switch b {
            case .null: return a is NSNull
            case .bool(let x): return (a as? Bool) == x
            case .int(let x): return (a as? Int).map { Int64($0) == x } ?? false
            case .double(let x): return (a as? Double) == x
            case .string(let x): return (a as? String) == x
            case .array(let xs):
                guard let arr = a as? [Any], arr.count == xs.count else { return false }
                return zip(arr, xs).allSatisfy { same($0, $1) }
            case .object(let kv):
                guard let d = a as? [String: Any], d.count == Set(kv.map(\.0)).count else { return false }
                return kv.allSatisfy { k, v in d[k].map { same($0, v) } ?? false }
            }
        }
        for _ in 0..<500 {
            let doc: [String: Any] = ["root": randomValue(0)]
            let data = try JSONSerialization.data(withJSONObject: doc)
            let ours = try JSONValue.parse(bytes: Array(data))
            let theirs = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            XCTAssertTrue(same(theirs, ours), String(decoding: data, as: UTF8.self))
            // And our writer's output is read back identically by Foundation.
            let round = try JSONSerialization.jsonObject(with: Data(ours.serialized().utf8))
            XCTAssertTrue(same(round, ours))
        }
    }

    func testMemberLookupHandlesEscapedKeys() throws {
        var bytes = Array(#"{"a\u0062c": 1, "x": {"y": [10, 20]}}"#.utf8)
        try bytes.withUnsafeMutableBytes { raw in
            var sc = JSONScanner()
            let doc = try sc.parse(UnsafeRawBufferPointer(raw))
            XCTAssertEqual(doc.root["abc"]?.int, 1)
            XCTAssertEqual(doc.root.path(["x", "y", "1"])?.int, 20)
            XCTAssertNil(doc.root["nope"])
        }
    }
}
