import Foundation
import XCTest
@testable import PrefIO

final class HashAndUTF8Tests: XCTestCase {
    func testXXH64MatchesReferenceVectors() {
        // Reference values from the python-xxhash binding of the C library.
        XCTAssertEqual(hex16(XXH64.hash("")), "ef46db3751d8e999")
        XCTAssertEqual(hex16(XXH64.hash("a")), "d24ec4f1a98c6e5b")
        XCTAssertEqual(hex16(XXH64.hash("abc")), "44bc2cf5ad770999")
        XCTAssertEqual(hex16(XXH64.hash("Nobody inspects the spammish repetition")), "fbcea83c8a378bf1")
        XCTAssertEqual(hex16(XXH64.hash((0..<200).map { UInt8($0) })), "50dc1079b99e879c")
    }

    func testUTF8ValidationAgreesWithTheStandardLibrary() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0x41], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xFF], [0xC0, 0x80],
                                 [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0x80], [0x80], [0xC3], [0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]]
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { bytes += pieces.randomElement(using: &rng)! }
            let ours = bytes.withUnsafeBytes { UTF8Check.firstInvalid($0) } == nil
            let std = String(validating: bytes, as: UTF8.self) != nil
            XCTAssertEqual(ours, std, "disagreement on \(bytes)")
        }
    }

    func testFirstInvalidReportsTheOffset() {
        let b: [UInt8] = Array("abcdefghijkl".utf8) + [0xFF] + Array("xyz".utf8)
        XCTAssertEqual(b.withUnsafeBytes { UTF8Check.firstInvalid($0) }, 12)
    }
}
