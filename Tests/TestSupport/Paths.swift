import Foundation
import XCTest
import PrefIO

/// Locations shared by the test targets: the repo's fixtures and the real samples in ../shared.
public enum Paths {
    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static func fixture(_ name: String) -> String { repo + "/fixtures/" + name }
    /// A real sample from ../shared/realdata; the test is skipped with a message when it is absent.
    public static func realdata(_ name: String) throws -> String {
        let p = repo + "/../shared/realdata/" + name
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("real sample ../shared/realdata/\(name) is absent on this machine")
        }
        return p
    }
    public static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "prefkit-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

/// A seeded random number generator so generated test data is the same every run.
public struct SeededGenerator: RandomNumberGenerator {
    var rng: SplitMix64
    public init(seed: UInt64) { rng = SplitMix64(state: seed &+ 0x9E37_79B9_7F4A_7C15) }
    public mutating func next() -> UInt64 { rng.next() }
}
