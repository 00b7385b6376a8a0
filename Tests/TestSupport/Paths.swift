import Foundation
import XCTest

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

/// A seeded random number generator (splitmix64) so generated test data is the same every run.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
